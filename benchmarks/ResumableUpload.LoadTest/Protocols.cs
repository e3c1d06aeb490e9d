using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace ResumableUpload.LoadTest;

/// <summary>What a measurement drives: a baseline endpoint or one of the middleware's protocols.</summary>
internal abstract class Target
{
    protected Target(string name, bool isBaseline)
    {
        Name = name;
        IsBaseline = isBaseline;
    }

    /// <summary>The name in tables: <c>discard</c>, <c>file</c>, <c>constant</c>, <c>xfileid</c>, <c>tus</c>, <c>ietf</c>.</summary>
    public string Name { get; }

    public bool IsBaseline { get; }

    /// <summary>Whether the target keeps the bytes (so a SHA-256 check of the stored files applies).</summary>
    public virtual bool Stores => true;

    /// <summary>The host's <c>--kind</c>.</summary>
    public string Kind => IsBaseline ? "baseline" : "middleware";

    /// <summary>Sends a whole upload (one request where the protocol allows it).</summary>
    public abstract Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken);

    /// <summary>Sends an upload in <paramref name="parts"/> requests, asking the offset before each; adds each part's time (query + request) in ms to <paramref name="partTimes"/>.</summary>
    public virtual Task UploadInPartsAsync(HttpClient http, Uri server, int number, ulong seed, long size, int parts, Progress progress, CancellationToken cancellationToken, List<double>? partTimes = null)
        => throw new NotSupportedException($"{Name} has no parts");

    /// <summary>Prepares an offset query (for the middleware: a finished small upload) and returns the query.</summary>
    public abstract Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken);

    protected static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken, params HttpStatusCode[] expected)
    {
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!expected.Contains(response.StatusCode))
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            response.Dispose();
            throw new HttpRequestException($"{request.Method} {request.RequestUri}: expected {string.Join(" or ", expected.Select(e => (int)e))}, got {(int)response.StatusCode} {body}");
        }

        return response;
    }

    protected static long OffsetHeader(HttpResponseMessage response)
        => long.Parse(response.Headers.GetValues("Upload-Offset").Single(), CultureInfo.InvariantCulture);

    protected static Uri Location(HttpResponseMessage response, Uri server)
        => new(server, response.Headers.Location ?? throw new HttpRequestException("no Location"));

    public static long PartSize(long size, int parts, int index) => index < parts - 1 ? size / parts : size - (size / parts * (parts - 1));
}

/// <summary>Bare Kestrel: reads the body and drops it.</summary>
internal sealed class DiscardBaseline() : Target("discard", isBaseline: true)
{
    public override bool Stores => false;

    public override async Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "discard")) { Content = new GeneratedContent(seed, 0, size, progress, "application/octet-stream") };
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK);
    }

    public override Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
        => throw new NotSupportedException();
}

/// <summary>Bare Kestrel: writes the body to a new file with a FileStream (what a plain app does).</summary>
internal sealed class FileBaseline() : Target("file", isBaseline: true)
{
    public override async Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, $"file/{number}")) { Content = new GeneratedContent(seed, 0, size, progress, "application/octet-stream") };
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK);
    }

    public override Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
        => throw new NotSupportedException();
}

/// <summary>Bare Kestrel: answers a constant to GET (the baseline of the offset queries).</summary>
internal sealed class ConstantBaseline() : Target("constant", isBaseline: true)
{
    public override bool Stores => false;

    public override Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
        => throw new NotSupportedException();

    public override Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        var uri = new Uri(server, "constant");
        return Task.FromResult<Func<CancellationToken, Task>>(async ct =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            using var response = await SendAsync(http, request, ct, HttpStatusCode.OK);
        });
    }
}

/// <summary>The X-File-Id protocol: <c>GET files/status</c>, <c>POST files/upload</c>.</summary>
internal sealed class XFileIdTarget() : Target("xfileid", isBaseline: false)
{
    public override async Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        using var response = await PostAsync(http, server, Id(number), seed, 0, size, size, progress, cancellationToken);
    }

    public override async Task UploadInPartsAsync(HttpClient http, Uri server, int number, ulong seed, long size, int parts, Progress progress, CancellationToken cancellationToken, List<double>? partTimes = null)
    {
        var id = Id(number);
        long sent = 0;
        for (var i = 0; i < parts; i++)
        {
            var partStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            var offset = await StatusAsync(http, server, id, cancellationToken);
            if (offset != sent)
            {
                throw new HttpRequestException($"status said {offset}, {sent} bytes were sent");
            }

            var end = sent + PartSize(size, parts, i);
            using var response = await PostAsync(http, server, id, seed, sent, end, size, progress, cancellationToken);
            sent = end;
            partTimes?.Add(System.Diagnostics.Stopwatch.GetElapsedTime(partStarted).TotalMilliseconds);
        }
    }

    public override async Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        var id = Id(-1);
        using (await PostAsync(http, server, id, seed, 0, size, size, progress, cancellationToken))
        {
        }

        return async ct =>
        {
            if (await StatusAsync(http, server, id, ct) != size)
            {
                throw new HttpRequestException("status answered a wrong offset");
            }
        };
    }

    private static string Id(int number) => $"bench-{number}";

    private static Task<HttpResponseMessage> PostAsync(HttpClient http, Uri server, string id, ulong seed, long start, long end, long size, Progress progress, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "files/upload")) { Content = new GeneratedContent(seed, start, end, progress, "application/octet-stream") };
        request.Headers.TryAddWithoutValidation("X-File-Id", id);
        request.Headers.TryAddWithoutValidation("X-Start-Byte", start.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-File-Size", size.ToString(CultureInfo.InvariantCulture));
        return SendAsync(http, request, cancellationToken, HttpStatusCode.OK);
    }

    private static async Task<long> StatusAsync(HttpClient http, Uri server, string id, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server, "files/status"));
        request.Headers.TryAddWithoutValidation("X-File-Id", id);
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK);
        return long.Parse(await response.Content.ReadAsStringAsync(cancellationToken), CultureInfo.InvariantCulture);
    }
}

/// <summary>tus 1.0: creation-with-upload for a whole upload; POST then HEAD + PATCH per part.</summary>
internal sealed class TusTarget() : Target("tus", isBaseline: false)
{
    private const string OctetStream = "application/offset+octet-stream";

    public override async Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        using var request = Create(server, size);
        request.Content = new GeneratedContent(seed, 0, size, progress, OctetStream);
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.Created);
        if (OffsetHeader(response) != size)
        {
            throw new HttpRequestException("creation-with-upload did not store the whole body");
        }
    }

    public override async Task UploadInPartsAsync(HttpClient http, Uri server, int number, ulong seed, long size, int parts, Progress progress, CancellationToken cancellationToken, List<double>? partTimes = null)
    {
        Uri upload;
        using (var request = Create(server, size))
        using (var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.Created))
        {
            upload = Location(response, server);
        }

        long sent = 0;
        for (var i = 0; i < parts; i++)
        {
            var partStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            if (await HeadAsync(http, upload, cancellationToken) != sent)
            {
                throw new HttpRequestException("HEAD answered a wrong offset");
            }

            var end = sent + PartSize(size, parts, i);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new GeneratedContent(seed, sent, end, progress, OctetStream) };
            patch.Headers.TryAddWithoutValidation("Tus-Resumable", "1.0.0");
            patch.Headers.TryAddWithoutValidation("Upload-Offset", sent.ToString(CultureInfo.InvariantCulture));
            using var response = await SendAsync(http, patch, cancellationToken, HttpStatusCode.NoContent);
            sent = end;
            partTimes?.Add(System.Diagnostics.Stopwatch.GetElapsedTime(partStarted).TotalMilliseconds);
        }
    }

    public override async Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        Uri upload;
        using (var request = Create(server, size))
        {
            request.Content = new GeneratedContent(seed, 0, size, progress, OctetStream);
            using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.Created);
            upload = Location(response, server);
        }

        return async ct =>
        {
            if (await HeadAsync(http, upload, ct) != size)
            {
                throw new HttpRequestException("HEAD answered a wrong offset");
            }
        };
    }

    private static HttpRequestMessage Create(Uri server, long size)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "files"));
        request.Headers.TryAddWithoutValidation("Tus-Resumable", "1.0.0");
        request.Headers.TryAddWithoutValidation("Upload-Length", size.ToString(CultureInfo.InvariantCulture));
        return request;
    }

    private static async Task<long> HeadAsync(HttpClient http, Uri upload, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, upload);
        request.Headers.TryAddWithoutValidation("Tus-Resumable", "1.0.0");
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK);
        return OffsetHeader(response);
    }
}

/// <summary>The IETF draft (interop 8): one completing POST for a whole upload; empty POST then HEAD + PATCH per part.</summary>
internal sealed class IetfTarget() : Target("ietf", isBaseline: false)
{
    private const string Interop = "8";

    public override async Task UploadAsync(HttpClient http, Uri server, int number, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        using var request = Create(server, size, complete: true);
        request.Content = new GeneratedContent(seed, 0, size, progress, "application/octet-stream");
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK, HttpStatusCode.Created);
    }

    public override async Task UploadInPartsAsync(HttpClient http, Uri server, int number, ulong seed, long size, int parts, Progress progress, CancellationToken cancellationToken, List<double>? partTimes = null)
    {
        Uri upload;
        using (var request = Create(server, size, complete: false))
        {
            request.Content = new ByteArrayContent([]);
            using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.Created);
            upload = Location(response, server);
        }

        long sent = 0;
        for (var i = 0; i < parts; i++)
        {
            var partStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            if (await HeadAsync(http, upload, cancellationToken) != sent)
            {
                throw new HttpRequestException("HEAD answered a wrong offset");
            }

            var end = sent + PartSize(size, parts, i);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, upload) { Content = new GeneratedContent(seed, sent, end, progress, "application/partial-upload") };
            patch.Headers.TryAddWithoutValidation("Upload-Draft-Interop-Version", Interop);
            patch.Headers.TryAddWithoutValidation("Upload-Offset", sent.ToString(CultureInfo.InvariantCulture));
            patch.Headers.TryAddWithoutValidation("Upload-Complete", end == size ? "?1" : "?0");
            using var response = await SendAsync(http, patch, cancellationToken, HttpStatusCode.OK, HttpStatusCode.NoContent);
            sent = end;
            partTimes?.Add(System.Diagnostics.Stopwatch.GetElapsedTime(partStarted).TotalMilliseconds);
        }
    }

    public override async Task<Func<CancellationToken, Task>> PrepareQueryAsync(HttpClient http, Uri server, ulong seed, long size, Progress progress, CancellationToken cancellationToken)
    {
        Uri upload;
        using (var request = Create(server, size, complete: true))
        {
            request.Content = new GeneratedContent(seed, 0, size, progress, "application/octet-stream");
            using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.OK, HttpStatusCode.Created);
            upload = Location(response, server);
        }

        return async ct =>
        {
            if (await HeadAsync(http, upload, ct) != size)
            {
                throw new HttpRequestException("HEAD answered a wrong offset");
            }
        };
    }

    private static HttpRequestMessage Create(Uri server, long size, bool complete)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "files"));
        request.Headers.TryAddWithoutValidation("Upload-Draft-Interop-Version", Interop);
        request.Headers.TryAddWithoutValidation("Upload-Complete", complete ? "?1" : "?0");
        request.Headers.TryAddWithoutValidation("Upload-Length", size.ToString(CultureInfo.InvariantCulture));
        return request;
    }

    private static async Task<long> HeadAsync(HttpClient http, Uri upload, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, upload);
        request.Headers.TryAddWithoutValidation("Upload-Draft-Interop-Version", Interop);
        using var response = await SendAsync(http, request, cancellationToken, HttpStatusCode.NoContent, HttpStatusCode.OK);
        return OffsetHeader(response);
    }
}
