using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace ResumableUpload.Simulation.Tests.Clients;

/// <summary>What a host answered, as a client sees it: a status code (or -1 when the connection failed) and the offset it reported.</summary>
internal readonly record struct Answer(int Status, long? Offset, bool Complete, string Detail)
{
    public bool IsSuccess => Status is >= 200 and < 300;

    public bool ConnectionFailed => Status < 0;

    public override string ToString() => ConnectionFailed
        ? "connection failed (" + Detail + ")"
        : string.Create(CultureInfo.InvariantCulture, $"{Status} offset={Offset?.ToString(CultureInfo.InvariantCulture) ?? "-"}{(Complete ? " complete" : "")}");
}

/// <summary>
/// A black-box client of one wire protocol, as a real one behaves: ask a host for the offset, send the rest from
/// there. Only HTTP; it knows nothing of the engine or the stores.
/// </summary>
internal abstract class UploadClient
{
    public abstract string Protocol { get; }

    /// <summary>Makes the upload exist (tus creation); the X-File-Id protocol creates with its first append.</summary>
    public abstract Task<Answer> CreateAsync(HttpClient host, long length);

    public abstract Task<Answer> StatusAsync(HttpClient host);

    /// <summary>
    /// Sends <paramref name="content"/>[<paramref name="from"/>..+<paramref name="count"/>]. With
    /// <paramref name="dropAfter"/>, the connection is cut after that many body bytes (the client vanished mid-body).
    /// </summary>
    public abstract Task<Answer> AppendAsync(HttpClient host, byte[] content, long from, int count, int? dropAfter, bool checksum);

    protected static async Task<Answer> SendAsync(HttpClient host, HttpRequestMessage request, Func<HttpResponseMessage, Task<Answer>> read)
    {
        try
        {
            using (request)
            using (var response = await host.SendAsync(request))
            {
                return await read(response);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
        {
            return new Answer(-1, null, false, ex.GetType().Name);
        }
    }

    protected static long? HeaderOffset(HttpResponseMessage response)
        => response.Headers.TryGetValues("Upload-Offset", out var values)
           && long.TryParse(values.First(), NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset : null;

    protected static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The X-File-Id protocol: <c>GET status</c>, <c>POST upload</c> with <c>X-Start-Byte</c> and <c>X-File-Size</c>.</summary>
internal sealed class XFileIdClient(string fileId) : UploadClient
{
    public string FileId { get; } = fileId;

    public override string Protocol => "X-File-Id";

    public override Task<Answer> CreateAsync(HttpClient host, long length) => Task.FromResult(new Answer(200, 0, false, "created by its first append"));

    public override Task<Answer> StatusAsync(HttpClient host)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", FileId);
        return SendAsync(host, request, async response =>
        {
            var body = await response.Content.ReadAsStringAsync();
            long? offset = response.IsSuccessStatusCode && long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : null;
            return new Answer((int)response.StatusCode, offset, IsComplete(response), body);
        });
    }

    public override Task<Answer> AppendAsync(HttpClient host, byte[] content, long from, int count, int? dropAfter, bool checksum)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new SimulatedBody(content, from, count, dropAfter) };
        request.Headers.Add("X-File-Id", FileId);
        request.Headers.Add("X-Start-Byte", Text(from));
        request.Headers.Add("X-File-Size", Text(content.Length));
        return SendAsync(host, request, async response =>
        {
            var body = await response.Content.ReadAsStringAsync();
            long? offset = response.IsSuccessStatusCode && long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : HeaderOffset(response);
            return new Answer((int)response.StatusCode, offset, IsComplete(response), body.Length > 200 ? body[..200] : body);
        });
    }

    private static bool IsComplete(HttpResponseMessage response)
        => response.Headers.TryGetValues("Upload-Complete", out var values) && values.First() == "?1";
}

/// <summary>tus 1.0: creation <c>POST</c>, <c>HEAD</c> for the offset, <c>PATCH</c> with <c>Upload-Offset</c> and optionally <c>Upload-Checksum</c>.</summary>
internal sealed class TusClient : UploadClient
{
    public string? Path { get; private set; }

    public override string Protocol => "tus";

    public override Task<Answer> CreateAsync(HttpClient host, long length)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "");
        request.Headers.Add("Tus-Resumable", "1.0.0");
        request.Headers.Add("Upload-Length", Text(length));
        return SendAsync(host, request, response =>
        {
            if (response.StatusCode == HttpStatusCode.Created && response.Headers.Location is { } location)
            {
                Path = (location.IsAbsoluteUri ? location.AbsolutePath : location.OriginalString).TrimStart('/');
            }

            return Task.FromResult(new Answer((int)response.StatusCode, HeaderOffset(response), false, Path ?? ""));
        });
    }

    public override Task<Answer> StatusAsync(HttpClient host)
    {
        var request = new HttpRequestMessage(HttpMethod.Head, Path);
        request.Headers.Add("Tus-Resumable", "1.0.0");
        return SendAsync(host, request, response =>
        {
            var offset = HeaderOffset(response);
            var complete = offset is not null && response.Headers.TryGetValues("Upload-Length", out var length) && length.First() == Text(offset.Value);
            return Task.FromResult(new Answer((int)response.StatusCode, response.IsSuccessStatusCode ? offset : null, complete, ""));
        });
    }

    public override Task<Answer> AppendAsync(HttpClient host, byte[] content, long from, int count, int? dropAfter, bool checksum)
    {
        var body = new SimulatedBody(content, from, count, dropAfter);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/offset+octet-stream");
        var request = new HttpRequestMessage(HttpMethod.Patch, Path) { Content = body };
        request.Headers.Add("Tus-Resumable", "1.0.0");
        request.Headers.Add("Upload-Offset", Text(from));
        if (checksum)
        {
            var digest = SHA1.HashData(content.AsSpan((int)from, count));
            request.Headers.Add("Upload-Checksum", "sha1 " + Convert.ToBase64String(digest));
        }

        return SendAsync(host, request, response =>
        {
            var offset = HeaderOffset(response);
            return Task.FromResult(new Answer((int)response.StatusCode, offset, offset == content.Length, ""));
        });
    }
}

/// <summary>
/// A request body of known length sent in small pieces; with a drop point, it sends that many bytes, lets them reach
/// the server, then fails, which cuts the connection in the middle of the body.
/// </summary>
internal sealed class SimulatedBody(byte[] content, long from, int count, int? dropAfter) : HttpContent
{
    private const int Piece = 4096;

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var sent = 0;
        while (sent < count)
        {
            var piece = Math.Min(Piece, count - sent);
            if (dropAfter is int drop && sent + piece > drop)
            {
                piece = drop - sent;
                if (piece > 0)
                {
                    await stream.WriteAsync(content.AsMemory((int)from + sent, piece));
                }

                await stream.FlushAsync();
                await Task.Delay(150);
                throw new IOException("Simulated client drop");
            }

            await stream.WriteAsync(content.AsMemory((int)from + sent, piece));
            sent += piece;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = count;
        return true;
    }
}
