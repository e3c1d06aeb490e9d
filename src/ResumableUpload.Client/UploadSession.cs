using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Polly;

namespace ResumableUpload.Client;

/// <summary>
/// One upload from start (or resumption) to completion. <see cref="StepAsync"/> is one unit of work inside the retry
/// pipeline: create the upload if needed, learn the server's offset if it is unknown, then send one chunk.
/// </summary>
internal sealed class UploadSession
{
    private const string TusVersion = "1.0.0";
    private const int MaxConflictsWithoutProgress = 3;

    private readonly HttpClient _http;
    private readonly ResumableUploadClientOptions _options;
    private readonly IUploadResumeStore? _store;
    private readonly UploadSource _source;
    private readonly Uri _endpoint;
    private readonly string _key;
    private readonly ProgressTracker _progress;
    private readonly UploadProtocol _protocol;

    private Uri? _location;
    private string? _fileId;
    private long _offset;
    private bool _offsetKnown;
    private long _chunkSize;
    private bool? _tusChecksum;
    private int _conflicts;

    public UploadSession(HttpClient http, ResumableUploadClientOptions options, IUploadResumeStore? store, UploadSource source, Uri endpoint, IProgress<UploadProgress>? progress)
    {
        _http = http;
        _options = options;
        _store = options.StoreResumeState ? store : null;
        _source = source;
        _endpoint = endpoint;
        _protocol = options.Protocol;
        _chunkSize = options.ChunkSize;
        _key = string.Create(CultureInfo.InvariantCulture, $"{_protocol}|{endpoint}|{source.Fingerprint}");
        _progress = new ProgressTracker(progress, source.Length);
    }

    public static string DefaultFileId(UploadSource source)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(source.Fingerprint)))[..16];
        return string.Create(CultureInfo.InvariantCulture, $"{source.Name}-{source.Length}-{hash}");
    }

    public async Task<UploadResult> RunAsync(ResiliencePipeline pipeline, CancellationToken cancellationToken)
    {
        var record = _store is null ? null : await _store.GetAsync(_key, cancellationToken).ConfigureAwait(false);
        if (record is not null && record.Length == _source.Length)
        {
            _location = record.Location is null ? null : new Uri(record.Location, UriKind.Absolute);
            _fileId = record.FileId;
        }

        if (_protocol == UploadProtocol.XFileId)
        {
            _fileId ??= DefaultFileId(_source);
            await SaveAsync(cancellationToken).ConfigureAwait(false);
        }

        // A new upload starts at 0; anything resumed asks the server first. For X-File-Id a start byte of 0 would
        // restart a stored upload, so it always asks.
        _offsetKnown = _protocol != UploadProtocol.XFileId && _location is null;
        try
        {
            while (true)
            {
                var result = await pipeline.ExecuteAsync(static (session, token) => session.StepAsync(token), this, cancellationToken).ConfigureAwait(false);
                if (result is not null)
                {
                    _progress.Report(_source.Length, force: true);
                    await ForgetAsync().ConfigureAwait(false);
                    return result;
                }
            }
        }
        catch (ResumableUploadException e) when (!e.IsTransient)
        {
            await ForgetAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>One step; <see langword="null"/> means "not finished, step again".</summary>
    private async ValueTask<UploadResult?> StepAsync(CancellationToken cancellationToken)
    {
        if (_protocol == UploadProtocol.Tus && _options.Checksums && _tusChecksum is null)
        {
            _tusChecksum = await DiscoverTusChecksumAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_protocol != UploadProtocol.XFileId && _location is null)
        {
            var created = await CreateAsync(cancellationToken).ConfigureAwait(false);
            if (created is not null)
            {
                return created;
            }
        }

        if (!_offsetKnown)
        {
            var complete = await QueryOffsetAsync(cancellationToken).ConfigureAwait(false);
            if (complete)
            {
                return new UploadResult(_protocol, _location, _fileId, _source.Length, null, null, null);
            }

            if (!_offsetKnown)
            {
                return null; // the upload is gone on the server; the next step creates it again
            }
        }

        var before = _offset;
        try
        {
            return await SendChunkAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransport(e, cancellationToken))
        {
            // The request died (dropped connection, stall, server gone). Ask where the server got to: if it stored part
            // of the chunk, this step made progress and the retry count starts afresh.
            _offsetKnown = false;
            try
            {
                var complete = await QueryOffsetAsync(cancellationToken).ConfigureAwait(false);
                if (complete)
                {
                    return new UploadResult(_protocol, _location, _fileId, _source.Length, null, null, null);
                }

                if (_offsetKnown && _offset > before)
                {
                    return null;
                }
            }
            catch (Exception inner) when (IsTransport(inner, cancellationToken) || inner is ResumableUploadException { IsTransient: true })
            {
                // The offset stays unknown; the retry asks again.
            }

            throw new ResumableUploadException($"The request failed at byte {before}: {e.Message}", null, null, isTransient: true, innerException: e);
        }
    }

    private async ValueTask<UploadResult?> SendChunkAsync(CancellationToken cancellationToken)
    {
        var length = Math.Min(_chunkSize, _source.Length - _offset);
        var last = _offset + length == _source.Length;
        var start = _offset;
        string? digest = null;
        if (_options.Checksums && length > 0 && (_protocol == UploadProtocol.Ietf || (_protocol == UploadProtocol.Tus && _tusChecksum == true)))
        {
            digest = Convert.ToBase64String(await HashAsync(start, length, cancellationToken).ConfigureAwait(false));
        }

        using var watchdog = new StallWatchdog(_options.StallTimeout, _options.ResponseTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
        using var content = new ChunkContent(_source, start, length, last, watchdog, sent => _progress.Report(start + sent));
        using var request = new HttpRequestMessage { Content = content };
        switch (_protocol)
        {
            case UploadProtocol.XFileId:
                request.Method = HttpMethod.Post;
                request.RequestUri = new Uri(_endpoint, "upload");
                request.Headers.Add("X-File-Id", _fileId);
                request.Headers.Add("X-Start-Byte", start.ToString(CultureInfo.InvariantCulture));
                request.Headers.Add("X-File-Size", _source.Length.ToString(CultureInfo.InvariantCulture));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                break;
            case UploadProtocol.Tus:
                request.Method = HttpMethod.Patch;
                request.RequestUri = _location;
                request.Headers.Add("Tus-Resumable", TusVersion);
                request.Headers.Add("Upload-Offset", start.ToString(CultureInfo.InvariantCulture));
                if (digest is not null)
                {
                    request.Headers.Add("Upload-Checksum", "sha256 " + digest);
                }

                content.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
                break;
            default:
                request.Method = HttpMethod.Patch;
                request.RequestUri = _location;
                AddIetfVersion(request);
                request.Headers.Add("Upload-Offset", start.ToString(CultureInfo.InvariantCulture));
                request.Headers.Add("Upload-Complete", last ? "?1" : "?0");
                if (digest is not null)
                {
                    content.Headers.Add("Content-Digest", "sha-256=:" + digest + ":");
                }

                if (_options.IetfInteropVersion >= 6)
                {
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/partial-upload");
                }

                break;
        }

        watchdog.Arm();
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        ReadUploadLimit(response);

        if (response.IsSuccessStatusCode)
        {
            _conflicts = 0;
            var newOffset = ReadLong(response, "Upload-Offset") ?? (_protocol == UploadProtocol.XFileId ? ParseLong(body) : null) ?? start + length;
            _offset = newOffset;
            _progress.Report(_offset, force: true);
            var done = _protocol switch
            {
                UploadProtocol.XFileId => HeaderIs(response, "Upload-Complete", "?1") || (_offset == _source.Length && !response.Headers.Contains("Upload-Complete")),
                UploadProtocol.Tus => _offset == _source.Length,
                _ => last && _offset == _source.Length,
            };
            return done ? Result(response, body) : null;
        }

        switch (status)
        {
            case 409:
            case 400 when _protocol == UploadProtocol.Ietf && body.Contains("completed-upload", StringComparison.Ordinal):
            case 410 when _protocol == UploadProtocol.Ietf && body.Contains("completed-upload", StringComparison.Ordinal):
                // The server holds a different offset than we thought: learn it and go on from there.
                if (++_conflicts > MaxConflictsWithoutProgress)
                {
                    throw Final(response, body, $"The server kept refusing the offset {start} ({status}).");
                }

                var serverOffset = ReadLong(response, "Upload-Offset") ?? (_protocol == UploadProtocol.XFileId ? ParseLong(body) : null);
                if (serverOffset is { } known)
                {
                    _offset = known;
                }
                else
                {
                    _offsetKnown = false;
                }

                return null;
            case 413:
                if (length <= _options.MinimumChunkSize || _chunkSize <= _options.MinimumChunkSize)
                {
                    throw Final(response, body, $"The server refused a body of {length} bytes as too large (413), and the chunk cannot shrink below {_options.MinimumChunkSize} bytes.");
                }

                // A proxy or the server caps request bodies: send smaller pieces. Part of the body may have been stored.
                _chunkSize = Math.Max(_options.MinimumChunkSize, Math.Min(_chunkSize, length) / 2);
                _offsetKnown = false;
                return null;
            case 404 or 410 when _protocol != UploadProtocol.XFileId:
                // The upload expired or was removed: start it again.
                Restart();
                await SaveAsync(cancellationToken).ConfigureAwait(false);
                return null;
            case 460 when _protocol == UploadProtocol.Tus:
                _offsetKnown = false;
                throw Transient(response, body, "The server found the chunk's checksum wrong (460); it is sent again.");
        }

        if (IsTransientStatus(status))
        {
            _offsetKnown = false;
            throw Transient(response, body, $"The server answered {status} to the bytes from {start}.");
        }

        throw Final(response, body, $"The server refused the upload ({status}).");
    }

    private async ValueTask<UploadResult?> CreateAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent([]) };
        var empty = _source.Length == 0;
        if (_protocol == UploadProtocol.Tus)
        {
            request.Headers.Add("Tus-Resumable", TusVersion);
            request.Headers.Add("Upload-Length", _source.Length.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("Upload-Metadata", TusMetadata());
        }
        else
        {
            AddIetfVersion(request);
            request.Headers.Add("Upload-Complete", empty ? "?1" : "?0");
            if (_options.IetfInteropVersion >= 6)
            {
                request.Headers.Add("Upload-Length", _source.Length.ToString(CultureInfo.InvariantCulture));
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ResponseTimeout);
        using var response = await SendSmallAsync(request, timeout.Token, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        ReadUploadLimit(response);
        if (!response.IsSuccessStatusCode)
        {
            throw IsTransientStatus((int)response.StatusCode)
                ? Transient(response, body, $"Creating the upload failed ({(int)response.StatusCode}).")
                : Final(response, body, $"The server refused to create the upload ({(int)response.StatusCode}).");
        }

        if (_protocol == UploadProtocol.Ietf && empty)
        {
            return Result(response, body, new Uri(_endpoint, response.Headers.Location?.ToString() ?? string.Empty));
        }

        if (response.Headers.Location is not { } location)
        {
            throw Final(response, body, "The server created the upload but sent no Location.");
        }

        _location = location.IsAbsoluteUri ? location : new Uri(_endpoint, location);
        _offset = ReadLong(response, "Upload-Offset") ?? 0;
        _offsetKnown = true;
        await SaveAsync(cancellationToken).ConfigureAwait(false);
        if (_protocol == UploadProtocol.Tus && empty)
        {
            return Result(response, body);
        }

        return null;
    }

    /// <summary>Learns the server's offset. Returns <see langword="true"/> when the upload is already complete.</summary>
    private async ValueTask<bool> QueryOffsetAsync(CancellationToken cancellationToken)
    {
        using var request = _protocol switch
        {
            UploadProtocol.XFileId => new HttpRequestMessage(HttpMethod.Get, new Uri(_endpoint, "status")),
            _ => new HttpRequestMessage(HttpMethod.Head, _location),
        };
        switch (_protocol)
        {
            case UploadProtocol.XFileId:
                request.Headers.Add("X-File-Id", _fileId);
                break;
            case UploadProtocol.Tus:
                request.Headers.Add("Tus-Resumable", TusVersion);
                break;
            default:
                AddIetfVersion(request);
                break;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ResponseTimeout);
        using var response = await SendSmallAsync(request, timeout.Token, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var status = (int)response.StatusCode;
        if (_protocol != UploadProtocol.XFileId && status is 404 or 410 or 403)
        {
            Restart();
            await SaveAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw IsTransientStatus(status)
                ? Transient(response, body, $"Asking for the offset failed ({status}).")
                : Final(response, body, $"The server refused the offset query ({status}).");
        }

        ReadUploadLimit(response);
        var offset = ReadLong(response, "Upload-Offset") ?? (_protocol == UploadProtocol.XFileId ? ParseLong(body) : null)
            ?? throw Transient(response, body, "The offset response carried no offset.");
        _offset = offset;
        _offsetKnown = true;
        _progress.Report(_offset, force: true);
        return _protocol switch
        {
            UploadProtocol.XFileId => HeaderIs(response, "Upload-Complete", "?1"),
            UploadProtocol.Tus => offset == _source.Length && ReadLong(response, "Upload-Length") == _source.Length,
            _ => HeaderIs(response, "Upload-Complete", "?1") || (_options.IetfInteropVersion < 4 && offset == _source.Length),
        };
    }

    private async ValueTask<bool> DiscoverTusChecksumAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, _endpoint);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ResponseTimeout);
        using var response = await SendSmallAsync(request, timeout.Token, cancellationToken).ConfigureAwait(false);
        if (IsTransientStatus((int)response.StatusCode))
        {
            throw Transient(response, null, $"Discovery failed ({(int)response.StatusCode}).");
        }

        return response.IsSuccessStatusCode
            && response.Headers.TryGetValues("Tus-Checksum-Algorithm", out var values)
            && values.SelectMany(v => v.Split(',')).Any(v => v.Trim().Equals("sha256", StringComparison.OrdinalIgnoreCase));
    }

    private async Task<HttpResponseMessage> SendSmallAsync(HttpRequestMessage request, CancellationToken token, CancellationToken userToken)
    {
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransport(e, userToken))
        {
            throw new ResumableUploadException($"{request.Method} {request.RequestUri} failed: {e.Message}", null, null, isTransient: true, innerException: e);
        }
    }

    private async Task<byte[]> HashAsync(long start, long length, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var input = _source.Open();
        await using (input.ConfigureAwait(false))
        {
            input.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[(int)Math.Min(128 * 1024, length)];
            long done = 0;
            while (done < length)
            {
                var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException("The source ended before its length; was it changed during the upload?");
                }

                hash.AppendData(buffer, 0, read);
                done += read;
            }
        }

        return hash.GetHashAndReset();
    }

    private void Restart()
    {
        _location = null;
        _offset = 0;
        _offsetKnown = true;
        _conflicts = 0;
    }

    private void AddIetfVersion(HttpRequestMessage request)
        => request.Headers.Add("Upload-Draft-Interop-Version", _options.IetfInteropVersion.ToString(CultureInfo.InvariantCulture));

    private string TusMetadata()
    {
        var pairs = new List<string> { "filename " + Convert.ToBase64String(Encoding.UTF8.GetBytes(_source.Name)) };
        if (_source.ContentType is { } type)
        {
            pairs.Add("filetype " + Convert.ToBase64String(Encoding.UTF8.GetBytes(type)));
        }

        foreach (var (key, value) in _options.Metadata)
        {
            pairs.Add(key + " " + Convert.ToBase64String(Encoding.UTF8.GetBytes(value)));
        }

        return string.Join(',', pairs);
    }

    /// <summary>IETF <c>Upload-Limit: max-append-size=N</c> caps the chunk.</summary>
    private void ReadUploadLimit(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Upload-Limit", out var values))
        {
            return;
        }

        foreach (var item in values.SelectMany(v => v.Split(',')))
        {
            var pair = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (pair.Length == 2 && pair[0] == "max-append-size" && ParseLong(pair[1]) is { } max and > 0 && max < _chunkSize)
            {
                _chunkSize = max;
            }
        }
    }

    private UploadResult Result(HttpResponseMessage response, string body, Uri? location = null)
        => new(_protocol, location ?? _location, _fileId, _source.Length, (int)response.StatusCode,
               response.Content.Headers.ContentType?.MediaType, body.Length == 0 ? null : body);

    private async ValueTask SaveAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            return;
        }

        if (_protocol != UploadProtocol.XFileId && _location is null)
        {
            await _store.RemoveAsync(_key, cancellationToken).ConfigureAwait(false);
            return;
        }

        await _store.SetAsync(new UploadResumeRecord
        {
            Key = _key,
            Protocol = _protocol,
            Endpoint = _endpoint.ToString(),
            Location = _location?.ToString(),
            FileId = _fileId,
            Name = _source.Name,
            Length = _source.Length,
            CreatedAt = DateTimeOffset.UtcNow,
        }, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ForgetAsync()
    {
        if (_store is not null)
        {
            await _store.RemoveAsync(_key, CancellationToken.None).ConfigureAwait(false);
        }
    }

    internal static bool IsTransientStatus(int status) => status is 408 or 423 or 425 or 429 || status >= 500;

    private static bool IsTransport(Exception e, CancellationToken userToken)
        => e is HttpRequestException or IOException or System.Net.Sockets.SocketException || (e is OperationCanceledException && !userToken.IsCancellationRequested);

    private static ResumableUploadException Transient(HttpResponseMessage response, string? body, string message)
        => new(message, (int)response.StatusCode, body, isTransient: true, RetryAfter(response));

    private static ResumableUploadException Final(HttpResponseMessage response, string? body, string message)
        => new(message, (int)response.StatusCode, body, isTransient: false);

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        if (retryAfter.Delta is { } delta)
        {
            return delta;
        }

        return retryAfter.Date is { } date ? (date - DateTimeOffset.UtcNow) is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero : null;
    }

    private static bool HeaderIs(HttpResponseMessage response, string name, string value)
        => response.Headers.TryGetValues(name, out var values) && values.Any(v => v.Trim() == value);

    private static long? ReadLong(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? ParseLong(values.FirstOrDefault()) : null;

    private static long? ParseLong(string? text)
        => long.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
}
