using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace ResumableUpload.Client;

/// <summary>
/// Uploads files and streams over <see cref="HttpClient"/> with one of the three protocols of ResumableUpload.Middleware
/// (or any tus 1.0 / IETF-draft server): in chunks, retrying transient failures with exponential back-off, jitter and
/// the server's <c>Retry-After</c>, aborting stalled requests, and keeping resume state so an upload cancelled (paused)
/// or cut by a process restart goes on where the server stopped when it is started again.
/// </summary>
public sealed class ResumableUploadClient
{
    private readonly HttpClient _http;
    private readonly IUploadResumeStore? _store;
    private readonly ResiliencePipeline _pipeline;

    /// <summary>Creates a client.</summary>
    /// <param name="httpClient">The client to send with. Its <see cref="HttpClient.Timeout"/> should be
    /// <see cref="Timeout.InfiniteTimeSpan"/>: the upload client has its own stall and response timeouts.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <param name="resumeStore">Where resume state is kept; <see langword="null"/> for a <see cref="JsonFileUploadResumeStore"/>
    /// in the user's local application data folder.</param>
    public ResumableUploadClient(HttpClient httpClient, ResumableUploadClientOptions? options, IUploadResumeStore? resumeStore)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        Options = options ?? new ResumableUploadClientOptions();
        Options.Validate();
        _store = Options.StoreResumeState ? resumeStore ?? new JsonFileUploadResumeStore() : null;
        _pipeline = BuildPipeline(Options);
    }

    /// <summary>Creates a client from dependency injection (see <c>AddResumableUploadClient</c>).</summary>
    /// <param name="httpClient">The typed client from <c>IHttpClientFactory</c>.</param>
    /// <param name="options">The options.</param>
    /// <param name="resumeStore">The registered resume store.</param>
    [ActivatorUtilitiesConstructor]
    public ResumableUploadClient(HttpClient httpClient, IOptions<ResumableUploadClientOptions> options, IUploadResumeStore resumeStore)
        : this(httpClient, (options ?? throw new ArgumentNullException(nameof(options))).Value, resumeStore)
    {
    }

    /// <summary>Creates a client with the given options and the default <see cref="JsonFileUploadResumeStore"/>.</summary>
    /// <param name="httpClient">The client to send with.</param>
    /// <param name="options">The options.</param>
    public ResumableUploadClient(HttpClient httpClient, ResumableUploadClientOptions options)
        : this(httpClient, options, null)
    {
    }

    /// <summary>The options this client was created with.</summary>
    public ResumableUploadClientOptions Options { get; }

    /// <summary>
    /// Uploads <paramref name="source"/>, or resumes its unfinished upload. Cancelling <paramref name="cancellationToken"/>
    /// pauses: the resume state is kept, and calling this again with the same source continues.
    /// </summary>
    /// <param name="source">What to upload.</param>
    /// <param name="progress">Receives progress reports (bytes, speed, time remaining), at most ten a second.</param>
    /// <param name="cancellationToken">Pauses the upload.</param>
    /// <returns>The result: where the upload lives and the server's completing response.</returns>
    /// <exception cref="ResumableUploadException">The server refused the upload for good, or transient failures
    /// outlasted <see cref="ResumableUploadClientOptions.MaxRetryAttempts"/>.</exception>
    /// <exception cref="OperationCanceledException">The upload was paused.</exception>
    public Task<UploadResult> UploadAsync(UploadSource source, IProgress<UploadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var session = new UploadSession(_http, Options, _store, source, ResolveEndpoint(), progress);
        return session.RunAsync(_pipeline, cancellationToken);
    }

    /// <summary>Uploads (or resumes) the file at <paramref name="path"/>.</summary>
    /// <param name="path">The file's path.</param>
    /// <param name="progress">Receives progress reports.</param>
    /// <param name="cancellationToken">Pauses the upload.</param>
    /// <returns>The result.</returns>
    public Task<UploadResult> UploadFileAsync(string path, IProgress<UploadProgress>? progress = null, CancellationToken cancellationToken = default)
        => UploadAsync(UploadSource.FromFile(new FileInfo(path)), progress, cancellationToken);

    /// <summary>The unfinished uploads in the resume store (those of every endpoint and protocol).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The records; empty without a store.</returns>
    public async ValueTask<IReadOnlyList<UploadResumeRecord>> ListUnfinishedAsync(CancellationToken cancellationToken = default)
        => _store is null ? [] : await _store.ListAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Forgets an unfinished upload: removes its record and, for tus and IETF, asks the server to delete it
    /// (best effort; an unreachable server lets it expire instead).
    /// </summary>
    /// <param name="record">A record from <see cref="ListUnfinishedAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the record is removed.</returns>
    public async Task ForgetAsync(UploadResumeRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Location is { } location && record.Protocol != UploadProtocol.XFileId)
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(location, UriKind.Absolute));
            if (record.Protocol == UploadProtocol.Tus)
            {
                request.Headers.Add("Tus-Resumable", "1.0.0");
            }
            else
            {
                request.Headers.Add("Upload-Draft-Interop-Version", Options.IetfInteropVersion.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            try
            {
                using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
                // Best effort: the server expires it.
            }
        }

        if (_store is not null)
        {
            await _store.RemoveAsync(record.Key, cancellationToken).ConfigureAwait(false);
        }
    }

    private Uri ResolveEndpoint()
    {
        var endpoint = Options.Endpoint;
        if (endpoint is null || !endpoint.IsAbsoluteUri)
        {
            var baseAddress = _http.BaseAddress ?? throw new InvalidOperationException("Set ResumableUploadClientOptions.Endpoint to an absolute URL, or give the HttpClient a BaseAddress.");
            endpoint = endpoint is null ? baseAddress : new Uri(baseAddress, endpoint);
        }

        if (Options.Protocol == UploadProtocol.XFileId && !endpoint.AbsolutePath.EndsWith('/'))
        {
            endpoint = new UriBuilder(endpoint) { Path = endpoint.AbsolutePath + "/" }.Uri;
        }

        return endpoint;
    }

    private static ResiliencePipeline BuildPipeline(ResumableUploadClientOptions options)
    {
        if (options.MaxRetryAttempts == 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is ResumableUploadException { IsTransient: true }),
                MaxRetryAttempts = options.MaxRetryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                DelayGenerator = args =>
                {
                    // The server's Retry-After wins over the computed back-off (capped at MaxRetryDelay), with up to
                    // 10 % jitter on top, so clients told to wait do not all come back in the same instant.
                    if (args.Outcome.Exception is ResumableUploadException { RetryAfter: { } retryAfter })
                    {
                        var wait = retryAfter < options.MaxRetryDelay ? retryAfter : options.MaxRetryDelay;
                        var jitter = TimeSpan.FromMilliseconds(wait.TotalMilliseconds * 0.1 * Random.Shared.NextDouble());
                        return ValueTask.FromResult<TimeSpan?>(wait + jitter);
                    }

                    return ValueTask.FromResult<TimeSpan?>(null);
                },
            })
            .Build();
    }
}
