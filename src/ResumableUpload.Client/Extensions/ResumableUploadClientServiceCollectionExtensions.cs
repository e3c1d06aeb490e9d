using Microsoft.Extensions.DependencyInjection.Extensions;
using ResumableUpload.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="ResumableUploadClient"/> as a typed client of <c>IHttpClientFactory</c>.</summary>
public static class ResumableUploadClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ResumableUploadClient"/> (a typed <see cref="HttpClient"/> with an infinite timeout: the
    /// upload client has its own stall and response timeouts), its options, and the default
    /// <see cref="JsonFileUploadResumeStore"/> unless an <see cref="IUploadResumeStore"/> is registered already.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (endpoint, protocol, chunk size, ...).</param>
    /// <returns>The client's builder, to add handlers or configure the primary handler.</returns>
    public static IHttpClientBuilder AddResumableUploadClient(this IServiceCollection services, Action<ResumableUploadClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ResumableUploadClientOptions>().Configure(configure);
        services.TryAddSingleton<IUploadResumeStore, JsonFileUploadResumeStore>();
        return services.AddHttpClient<ResumableUploadClient>(client => client.Timeout = Timeout.InfiniteTimeSpan);
    }
}
