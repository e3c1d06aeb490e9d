using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Stores.AzureBlob;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Keeps upload bytes in Azure Blob Storage: <c>AddResumableUploads().AddAzureBlobDataStore(...)</c>.</summary>
public static class AzureBlobResumableUploadBuilderExtensions
{
    /// <summary>
    /// Keeps upload bytes in block blobs of an Azure Blob Storage container, so several app instances share uploads.
    /// Options bind from the <c>ResumableUploads:AzureBlob</c> configuration section (<c>ConnectionString</c> and
    /// <c>ContainerName</c> are required) and are validated at start-up. Also registers the health check
    /// <c>resumable-uploads-AzureBlob</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddAzureBlobDataStore(this IResumableUploadBuilder builder)
        => Add(builder, factory: null, configure: null);

    /// <summary>
    /// Keeps upload bytes in block blobs of an Azure Blob Storage container, so several app instances share uploads.
    /// Options bind from the <c>ResumableUploads:AzureBlob</c> configuration section (<c>ConnectionString</c> and
    /// <c>ContainerName</c> are required), then <paramref name="configure"/> runs; they are validated at start-up.
    /// Also registers the health check <c>resumable-uploads-AzureBlob</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="configure">Code configuration, applied after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddAzureBlobDataStore(this IResumableUploadBuilder builder, Action<AzureBlobUploadStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Add(builder, factory: null, configure);
    }

    /// <summary>
    /// Keeps upload bytes in block blobs of the container that <paramref name="containerFactory"/> returns (for example
    /// from a <see cref="BlobServiceClient"/> the host registered with its own credentials). <c>ConnectionString</c>,
    /// <c>ContainerName</c>, <c>ServiceVersion</c> and <c>MaxRetries</c> are then not used; the other options bind from
    /// the <c>ResumableUploads:AzureBlob</c> configuration section (or
    /// <c>services.Configure&lt;AzureBlobUploadStoreOptions&gt;(...)</c>) and are validated at start-up.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="containerFactory">Returns the container client; called once.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddAzureBlobDataStore(this IResumableUploadBuilder builder, Func<IServiceProvider, BlobContainerClient> containerFactory)
    {
        ArgumentNullException.ThrowIfNull(containerFactory);
        return Add(builder, containerFactory, configure: null);
    }

    /// <summary>
    /// Keeps upload bytes in block blobs of <paramref name="container"/>. <c>ConnectionString</c>,
    /// <c>ContainerName</c>, <c>ServiceVersion</c> and <c>MaxRetries</c> are then not used; the other options bind from
    /// the <c>ResumableUploads:AzureBlob</c> configuration section (or
    /// <c>services.Configure&lt;AzureBlobUploadStoreOptions&gt;(...)</c>) and are validated at start-up.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddResumableUploads</c>.</param>
    /// <param name="container">The container client.</param>
    /// <returns>The builder.</returns>
    public static IResumableUploadBuilder AddAzureBlobDataStore(this IResumableUploadBuilder builder, BlobContainerClient container)
    {
        ArgumentNullException.ThrowIfNull(container);
        return Add(builder, _ => container, configure: null);
    }

    private static IResumableUploadBuilder Add(IResumableUploadBuilder builder, Func<IServiceProvider, BlobContainerClient>? factory, Action<AzureBlobUploadStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        var options = services.AddOptions<AzureBlobUploadStoreOptions>().BindConfiguration(AzureBlobUploadStoreOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.RemoveAll<AzureBlobContainerSource>();
        services.AddSingleton(new AzureBlobContainerSource(factory));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AzureBlobUploadStoreOptions>, AzureBlobUploadStoreOptionsValidator>());

        services.TryAddSingleton(sp =>
        {
            var settings = sp.GetRequiredService<IOptions<AzureBlobUploadStoreOptions>>().Value;
            var source = sp.GetRequiredService<AzureBlobContainerSource>();
            var container = source.Factory is { } create ? create(sp) : AzureBlobContainerSource.FromOptions(settings);
            return new AzureBlobUploadDataStore(container, settings, sp.GetService<TimeProvider>(), sp.GetService<Microsoft.Extensions.Logging.ILogger<AzureBlobUploadDataStore>>());
        });
        services.RemoveAll<IUploadDataStore>();
        services.AddSingleton<IUploadDataStore>(sp => sp.GetRequiredService<AzureBlobUploadDataStore>());

        if (!services.Any(d => d.ServiceType == typeof(AzureBlobHealthCheck)))
        {
            services.TryAddSingleton<AzureBlobHealthCheck>();
            services.AddHealthChecks().Add(new HealthCheckRegistration(
                AzureBlobHealthCheck.Name,
                sp => sp.GetRequiredService<AzureBlobHealthCheck>(),
                failureStatus: null,
                tags: ["resumable-uploads", "azure-blob"],
                timeout: TimeSpan.FromSeconds(30)));
        }

        return builder;
    }
}
