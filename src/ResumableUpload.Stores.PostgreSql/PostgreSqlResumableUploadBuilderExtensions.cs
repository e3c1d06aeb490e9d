using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ResumableUpload.Stores.PostgreSql;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses the PostgreSQL stores on <see cref="IResumableUploadBuilder"/>.</summary>
public static class PostgreSqlResumableUploadBuilderExtensions
{
    /// <summary>The name of the health check the PostgreSQL stores register.</summary>
    public const string HealthCheckName = "resumable-uploads-PostgreSql";

    /// <summary>
    /// Keeps upload state in PostgreSQL and takes upload locks there (row leases with fencing tokens), so several app
    /// instances share uploads. Options bind from the <c>ResumableUploads:PostgreSql</c> configuration section, then
    /// <paramref name="configure"/> runs; they are validated at start-up (<c>ConnectionString</c> is required). Also
    /// registers the <c>resumable-uploads-PostgreSql</c> health check and, when <c>CreateSchemaOnStartup</c> is on, the
    /// migration at start-up. Upload bytes still need a shared data store.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddPostgreSqlStores(this IResumableUploadBuilder builder, Action<PostgreSqlStoreOptions>? configure = null)
        => builder.AddPostgreSqlStateStore(configure).AddPostgreSqlLockProvider();

    /// <summary>
    /// Keeps upload state (records) in PostgreSQL. Every save is refused when a newer lease holder has written the
    /// record since (fencing), so it pairs with a lease-granting lock provider such as
    /// <see cref="AddPostgreSqlLockProvider"/>. Options as in <see cref="AddPostgreSqlStores"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddPostgreSqlStateStore(this IResumableUploadBuilder builder, Action<PostgreSqlStoreOptions>? configure = null)
    {
        AddShared(builder, configure);
        return builder.AddStateStore<PostgreSqlUploadStateStore>();
    }

    /// <summary>
    /// Takes upload locks in PostgreSQL: one writer per upload across every instance, as a lease renewed every third of
    /// <c>LeaseDuration</c> that a dead instance loses, with a fencing token that grows with every grant, and handover
    /// requests between instances. Options as in <see cref="AddPostgreSqlStores"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddPostgreSqlLockProvider(this IResumableUploadBuilder builder, Action<PostgreSqlStoreOptions>? configure = null)
    {
        AddShared(builder, configure);
        return builder.AddLockProvider<PostgreSqlUploadLockProvider>();
    }

    private static void AddShared(IResumableUploadBuilder builder, Action<PostgreSqlStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var first = !services.Any(d => d.ServiceType == typeof(PostgreSqlStoreContext)); // the other PostgreSQL call may have run
        var options = services.AddOptions<PostgreSqlStoreOptions>();
        if (first)
        {
            options.BindConfiguration(PostgreSqlStoreOptions.SectionName).ValidateOnStart();
        }

        if (configure is not null)
        {
            options.Configure(configure); // after configuration binding, so code wins
        }

        if (!first)
        {
            return;
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgreSqlStoreOptions>, PostgreSqlStoreOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new PostgreSqlStoreContext(sp.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PostgreSqlMigrationService>());
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            HealthCheckName,
            sp => new PostgreSqlHealthCheck(sp.GetRequiredService<PostgreSqlStoreContext>()),
            failureStatus: null,
            tags: ["resumable-uploads", "postgresql"],
            timeout: TimeSpan.FromSeconds(10)));
    }
}
