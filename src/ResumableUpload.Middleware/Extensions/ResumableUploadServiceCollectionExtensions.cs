using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Hosting;
using ResumableUpload.Middleware.Protocols.XFileId;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers resumable uploads.</summary>
public static class ResumableUploadServiceCollectionExtensions
{
    /// <summary>
    /// Adds the resumable-upload engine and its protocol front. Options bind from the <c>ResumableUploads</c>
    /// configuration section, then <paramref name="configure"/> runs; they are validated at start-up. Unless other
    /// stores are chosen on the returned builder (or registered by the host), uploads are kept by the filesystem
    /// stores under <c>ResumableUploads:FileSystem:RootPath</c> (default <c>uploads</c> under the content root).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Optional code configuration, applied after configuration binding.</param>
    /// <returns>A builder to choose stores and add event handlers.</returns>
    public static IResumableUploadBuilder AddResumableUploads(this IServiceCollection services, Action<ResumableUploadOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var optionsBuilder = services.AddOptions<ResumableUploadOptions>().BindConfiguration(ResumableUploadOptions.SectionName).ValidateOnStart();
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        services.AddOptions<FileSystemStoreOptions>().BindConfiguration(FileSystemStoreOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ResumableUploadOptions>, ResumableUploadOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FileSystemStoreOptions>, FileSystemStoreOptionsValidator>());

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ResumableUploadDiagnostics>();
        services.TryAddSingleton<FileSystemPaths>();
        services.TryAddSingleton<IUploadStateStore, FileSystemUploadStateStore>();
        services.TryAddSingleton<IUploadDataStore, FileSystemUploadDataStore>();
        services.TryAddSingleton<IUploadLockProvider, InProcessUploadLockProvider>();
        services.TryAddSingleton<IUploadPartitionResolver, DefaultUploadPartitionResolver>();
        services.TryAddSingleton<UploadEngine>();
        services.TryAddSingleton<ResumableUpload.Middleware.Http.UploadFront>();
        services.TryAddSingleton<XFileIdProtocolHandler>();
        services.TryAddSingleton<ResumableUpload.Middleware.Protocols.Tus.TusProtocolHandler>();
        services.TryAddSingleton<ResumableUpload.Middleware.Protocols.Ietf.IetfProtocolHandler>();
        services.TryAddSingleton<ResumableUpload.Middleware.Http.ResumableProtocolRouter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, UploadExpirationService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>, ResumableUpload.Middleware.Http.FileIdHeaderKestrelSetup>());

        return new ResumableUploadBuilder(services);
    }
}

/// <summary>Chooses stores and adds extension points after <c>AddResumableUploads</c>.</summary>
public interface IResumableUploadBuilder
{
    /// <summary>The service collection being configured.</summary>
    IServiceCollection Services { get; }
}

/// <summary>Store and extension choices on <see cref="IResumableUploadBuilder"/>.</summary>
public static class ResumableUploadBuilderExtensions
{
    /// <summary>
    /// Keeps upload state and bytes in a directory (the default). With <paramref name="rootPath"/>, that directory
    /// wins over the <c>ResumableUploads:FileSystem:RootPath</c> configuration key; relative paths are resolved
    /// against the content root.
    /// </summary>
    public static IResumableUploadBuilder AddFileSystemStores(this IResumableUploadBuilder builder, string? rootPath = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (rootPath is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(rootPath);
            builder.Services.Configure<FileSystemStoreOptions>(o => o.RootPath = rootPath);
        }

        return builder.Use<IUploadStateStore, FileSystemUploadStateStore>()
                      .Use<IUploadDataStore, FileSystemUploadDataStore>();
    }

    /// <summary>Keeps upload state and bytes in process memory: for tests and demos (lost on restart, not for large files).</summary>
    public static IResumableUploadBuilder AddInMemoryStores(this IResumableUploadBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use<IUploadStateStore, ResumableUpload.Middleware.Storage.InMemory.InMemoryUploadStateStore>()
                      .Use<IUploadDataStore, ResumableUpload.Middleware.Storage.InMemory.InMemoryUploadDataStore>();
    }

    /// <summary>Uses <typeparamref name="TStore"/> (a singleton) for upload state.</summary>
    public static IResumableUploadBuilder AddStateStore<TStore>(this IResumableUploadBuilder builder)
        where TStore : class, IUploadStateStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use<IUploadStateStore, TStore>();
    }

    /// <summary>Uses <typeparamref name="TStore"/> (a singleton) for upload bytes.</summary>
    public static IResumableUploadBuilder AddDataStore<TStore>(this IResumableUploadBuilder builder)
        where TStore : class, IUploadDataStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use<IUploadDataStore, TStore>();
    }

    /// <summary>Uses <typeparamref name="TProvider"/> (a singleton) to grant one writer per upload.</summary>
    public static IResumableUploadBuilder AddLockProvider<TProvider>(this IResumableUploadBuilder builder)
        where TProvider : class, IUploadLockProvider
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use<IUploadLockProvider, TProvider>();
    }

    /// <summary>Uses <typeparamref name="TResolver"/> (a singleton) to scope uploads to owners.</summary>
    public static IResumableUploadBuilder AddPartitionResolver<TResolver>(this IResumableUploadBuilder builder)
        where TResolver : class, IUploadPartitionResolver
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use<IUploadPartitionResolver, TResolver>();
    }

    /// <summary>Adds an event handler (a singleton). Several handlers run in registration order; a type is added once.</summary>
    public static IResumableUploadBuilder AddEvents<TEvents>(this IResumableUploadBuilder builder)
        where TEvents : ResumableUploadEvents
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ResumableUploadEvents, TEvents>());
        return builder;
    }

    /// <summary>Replaces whatever implements <typeparamref name="TService"/> with the singleton <typeparamref name="TImplementation"/>.</summary>
    private static IResumableUploadBuilder Use<TService, TImplementation>(this IResumableUploadBuilder builder)
        where TService : class
        where TImplementation : class, TService
    {
        builder.Services.RemoveAll<TService>();
        builder.Services.AddSingleton<TService, TImplementation>();
        return builder;
    }
}

internal sealed class ResumableUploadBuilder(IServiceCollection services) : IResumableUploadBuilder
{
    public IServiceCollection Services { get; } = services;
}
