using Amazon.S3;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.S3;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Keeps upload bytes in S3-compatible object storage.</summary>
public static class S3UploadBuilderExtensions
{
    /// <summary>The name of the health check the store registers: <c>resumable-uploads-S3</c>.</summary>
    public const string HealthCheckName = "resumable-uploads-S3";

    /// <summary>
    /// Keeps upload bytes in an S3 bucket (AWS or an S3-compatible server), configured from the
    /// <c>ResumableUploads:S3</c> configuration section and validated at start-up (<c>BucketName</c> is required). Also
    /// registers the <c>resumable-uploads-S3</c> health check.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddS3DataStore(this IResumableUploadBuilder builder)
        => AddS3DataStoreCore(builder, clientFactory: null, configure: null);

    /// <summary>
    /// Keeps upload bytes in an S3 bucket (AWS or an S3-compatible server). Options bind from the
    /// <c>ResumableUploads:S3</c> configuration section, then <paramref name="configure"/> runs; they are validated at
    /// start-up (<c>BucketName</c> is required). Also registers the <c>resumable-uploads-S3</c> health check.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddS3DataStore(this IResumableUploadBuilder builder, Action<S3UploadStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddS3DataStoreCore(builder, clientFactory: null, configure);
    }

    /// <summary>
    /// Keeps upload bytes in an S3 bucket through the <see cref="IAmazonS3"/> client <paramref name="clientFactory"/>
    /// returns (the host owns and configures it; the endpoint, region, path-style and credential options are then not
    /// used). Configure it with <c>RequestChecksumCalculation</c> and <c>ResponseChecksumValidation</c> set to
    /// <c>WHEN_REQUIRED</c> for S3-compatible servers.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="clientFactory">Creates the client once, from the application's services.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddS3DataStore(this IResumableUploadBuilder builder, Func<IServiceProvider, IAmazonS3> clientFactory, Action<S3UploadStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(clientFactory);
        return AddS3DataStoreCore(builder, clientFactory, configure);
    }

    private static IResumableUploadBuilder AddS3DataStoreCore(IResumableUploadBuilder builder, Func<IServiceProvider, IAmazonS3>? clientFactory, Action<S3UploadStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        var options = services.AddOptions<S3UploadStoreOptions>().BindConfiguration(S3UploadStoreOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3UploadStoreOptions>, S3UploadStoreOptionsValidator>());

        services.RemoveAll<S3StoreClient>();
        services.AddSingleton(sp => new S3StoreClient(sp.GetRequiredService<IOptions<S3UploadStoreOptions>>(), clientFactory?.Invoke(sp)));
        services.TryAddSingleton<S3UploadDataStore>();
        services.RemoveAll<IUploadDataStore>();
        services.AddSingleton<IUploadDataStore>(sp => sp.GetRequiredService<S3UploadDataStore>());

        if (!services.Any(d => d.ServiceType == typeof(S3HealthCheckMarker)))
        {
            services.AddSingleton<S3HealthCheckMarker>();
            services.AddHealthChecks().Add(new HealthCheckRegistration(
                HealthCheckName,
                sp => new S3UploadStoreHealthCheck(sp.GetRequiredService<S3StoreClient>()),
                failureStatus: HealthStatus.Unhealthy,
                tags: ["resumable-uploads", "s3"],
                timeout: TimeSpan.FromSeconds(30)));
        }

        return builder;
    }

    private sealed class S3HealthCheckMarker;
}
