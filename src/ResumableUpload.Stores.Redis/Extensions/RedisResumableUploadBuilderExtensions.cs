using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Stores.Redis;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses the Redis upload state store and lock provider on <see cref="IResumableUploadBuilder"/>.</summary>
public static class RedisResumableUploadBuilderExtensions
{
    /// <summary>The name of the health check the Redis stores register.</summary>
    public const string HealthCheckName = "resumable-uploads-Redis";

    /// <summary>
    /// Keeps upload state in Redis and grants one writer per upload with Redis leases: what several app instances need
    /// to share uploads (the bytes need a shared data store too). Options bind from the <c>ResumableUploads:Redis</c>
    /// configuration section, then <paramref name="configure"/> runs; <see cref="RedisUploadStoreOptions.Configuration"/>
    /// is required and everything is validated at start-up. Registers the health check <c>resumable-uploads-Redis</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "Both overloads ship together in the first version; the required factory keeps every call unambiguous.")]
    [SuppressMessage("ApiDesign", "RS0027:Public API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "As above.")]
    public static IResumableUploadBuilder AddRedisStores(this IResumableUploadBuilder builder, Action<RedisUploadStoreOptions>? configure = null)
        => AddBoth(builder, configure, connectionFactory: null);

    /// <summary>
    /// As <see cref="AddRedisStores(IResumableUploadBuilder, Action{RedisUploadStoreOptions}?)"/>, on a connection the host
    /// supplies and disposes (for example <c>sp =&gt; sp.GetRequiredService&lt;IConnectionMultiplexer&gt;()</c>), so
    /// <see cref="RedisUploadStoreOptions.Configuration"/> is not needed.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="connectionFactory">Returns the host's connection; called once, on first use.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "Both overloads ship together in the first version; the required factory keeps every call unambiguous.")]
    [SuppressMessage("ApiDesign", "RS0027:Public API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "As above.")]
    public static IResumableUploadBuilder AddRedisStores(this IResumableUploadBuilder builder, Func<IServiceProvider, IConnectionMultiplexer> connectionFactory, Action<RedisUploadStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(connectionFactory);
        return AddBoth(builder, configure, connectionFactory);
    }

    /// <summary>
    /// Keeps upload state in Redis (records that enforce fencing, with an expiry index). Options as for
    /// <see cref="AddRedisStores(IResumableUploadBuilder, Action{RedisUploadStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddRedisStateStore(this IResumableUploadBuilder builder, Action<RedisUploadStoreOptions>? configure = null)
    {
        AddRedisCore(builder, configure, connectionFactory: null);
        return builder.AddStateStore<RedisUploadStateStore>();
    }

    /// <summary>
    /// Grants one writer per upload across instances with Redis leases (fencing tokens, renewal, handover). Options as
    /// for <see cref="AddRedisStores(IResumableUploadBuilder, Action{RedisUploadStoreOptions}?)"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddRedisLockProvider(this IResumableUploadBuilder builder, Action<RedisUploadStoreOptions>? configure = null)
    {
        AddRedisCore(builder, configure, connectionFactory: null);
        return builder.AddLockProvider<RedisUploadLockProvider>();
    }

    private static IResumableUploadBuilder AddBoth(IResumableUploadBuilder builder, Action<RedisUploadStoreOptions>? configure, Func<IServiceProvider, IConnectionMultiplexer>? connectionFactory)
    {
        AddRedisCore(builder, configure, connectionFactory);
        return builder.AddStateStore<RedisUploadStateStore>()
                      .AddLockProvider<RedisUploadLockProvider>();
    }

    private static void AddRedisCore(IResumableUploadBuilder builder, Action<RedisUploadStoreOptions>? configure, Func<IServiceProvider, IConnectionMultiplexer>? connectionFactory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var firstTime = !services.Any(d => d.ServiceType == typeof(RedisConnection));

        var options = services.AddOptions<RedisUploadStoreOptions>();
        if (firstTime)
        {
            options.BindConfiguration(RedisUploadStoreOptions.SectionName).ValidateOnStart();
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (connectionFactory is not null)
        {
            services.RemoveAll<RedisSuppliedConnection>();
            services.AddSingleton(new RedisSuppliedConnection(connectionFactory));
        }

        if (!firstTime)
        {
            return;
        }

        services.AddSingleton<IValidateOptions<RedisUploadStoreOptions>>(
            sp => new RedisUploadStoreOptionsValidator(requireConfiguration: sp.GetService<RedisSuppliedConnection>() is null));
        services.AddSingleton(sp => sp.GetService<RedisSuppliedConnection>() is { } supplied
            ? new RedisConnection(() => supplied.Factory(sp))
            : new RedisConnection(sp.GetRequiredService<IOptions<RedisUploadStoreOptions>>().Value.Configuration!));
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            HealthCheckName,
            sp => new RedisHealthCheck(sp.GetRequiredService<RedisConnection>()),
            failureStatus: null,
            tags: ["resumable-uploads", "redis"]));
    }
}
