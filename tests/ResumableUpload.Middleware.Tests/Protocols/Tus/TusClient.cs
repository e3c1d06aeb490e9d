using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Tus;

/// <summary>Small helpers that speak tus 1.0.0 the way a client does (HttpClient, and raw sockets for what it cannot send).</summary>
public static partial class TusClient
{
    public const string Version = "1.0.0";
    public const string OffsetOctetStream = "application/offset+octet-stream";

    /// <summary>An upload URL as the server hands it out: the prefix, a slash and 32 lowercase hex digits.</summary>
    [GeneratedRegex("^(?<prefix>.*)/(?<id>[0-9a-f]{32})$")]
    public static partial Regex UploadUrl();

    /// <summary>A request with <c>Tus-Resumable: 1.0.0</c> (or <paramref name="version"/>; <see langword="null"/> leaves it out).</summary>
    public static HttpRequestMessage Request(HttpMethod method, string uri, string? version = Version)
    {
        var request = new HttpRequestMessage(method, new Uri(uri, UriKind.RelativeOrAbsolute));
        if (version is not null)
        {
            request.Headers.TryAddWithoutValidation("Tus-Resumable", version);
        }

        return request;
    }

    public static HttpRequestMessage CreateRequest(
        string collection = "",
        long? length = null,
        bool defer = false,
        string? metadata = null,
        string? concat = null,
        ReadOnlyMemory<byte>? body = null,
        string? checksum = null)
    {
        var request = Request(HttpMethod.Post, collection);
        if (length is long l)
        {
            request.Headers.TryAddWithoutValidation("Upload-Length", l.ToString(CultureInfo.InvariantCulture));
        }

        if (defer)
        {
            request.Headers.TryAddWithoutValidation("Upload-Defer-Length", "1");
        }

        if (metadata is not null)
        {
            request.Headers.TryAddWithoutValidation("Upload-Metadata", metadata);
        }

        if (concat is not null)
        {
            request.Headers.TryAddWithoutValidation("Upload-Concat", concat);
        }

        if (checksum is not null)
        {
            request.Headers.TryAddWithoutValidation("Upload-Checksum", checksum);
        }

        if (body is { } b)
        {
            request.Content = new ReadOnlyMemoryContent(b);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(OffsetOctetStream);
        }

        return request;
    }

    public static async Task<HttpResponseMessage> CreateAsync(this HttpClient client, string collection = "", long? length = null, bool defer = false, string? metadata = null, string? concat = null, ReadOnlyMemory<byte>? body = null)
    {
        using var request = CreateRequest(collection, length, defer, metadata, concat, body);
        return await client.SendAsync(request);
    }

    /// <summary>Creates an upload and returns its URL (asserting 201 and a Location of the expected shape).</summary>
    public static async Task<string> CreateUploadAsync(this HttpClient client, long? length, string collection = "", bool defer = false, string? metadata = null, string? concat = null)
    {
        using var response = await client.CreateAsync(collection, length, defer, metadata, concat);
        response.StatusCode.Should().Be(HttpStatusCode.Created, "creation should succeed: {0}", await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.OriginalString;
        UploadUrl().IsMatch(location).Should().BeTrue("'{0}' should be an upload URL", location);
        return location;
    }

    public static HttpRequestMessage PatchRequest(string url, long offset, ReadOnlyMemory<byte> body, string? contentType = OffsetOctetStream, long? uploadLength = null, string? checksum = null, bool chunked = false)
    {
        var request = Request(HttpMethod.Patch, url);
        request.Headers.TryAddWithoutValidation("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
        if (uploadLength is long length)
        {
            request.Headers.TryAddWithoutValidation("Upload-Length", length.ToString(CultureInfo.InvariantCulture));
        }

        if (checksum is not null)
        {
            request.Headers.TryAddWithoutValidation("Upload-Checksum", checksum);
        }

        HttpContent content = chunked ? new StreamContent(new MemoryStream(body.ToArray())) : new ReadOnlyMemoryContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        request.Content = content;
        return request;
    }

    public static async Task<HttpResponseMessage> PatchAsync(this HttpClient client, string url, long offset, ReadOnlyMemory<byte> body, string? contentType = OffsetOctetStream, long? uploadLength = null, string? checksum = null, bool chunked = false)
    {
        using var request = PatchRequest(url, offset, body, contentType, uploadLength, checksum, chunked);
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> HeadAsync(this HttpClient client, string url)
    {
        using var request = Request(HttpMethod.Head, url);
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> DeleteUploadAsync(this HttpClient client, string url)
    {
        using var request = Request(HttpMethod.Delete, url);
        return await client.SendAsync(request);
    }

    /// <summary>The HEAD answer's <c>Upload-Offset</c> (asserting 200).</summary>
    public static async Task<long> GetOffsetAsync(this HttpClient client, string url)
    {
        using var response = await client.HeadAsync(url);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return long.Parse(response.Header("Upload-Offset")!, NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>A response header (message or content header), or <see langword="null"/> when absent; several values are joined with commas.</summary>
    public static string? Header(this HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            return string.Join(',', values);
        }

        return null;
    }

    public static string Checksum(string algorithm, ReadOnlySpan<byte> data)
    {
#pragma warning disable CA5350, CA5351 // tus names these algorithms; the test only has to compute what a client would.
        var digest = algorithm switch
        {
            "sha1" => System.Security.Cryptography.SHA1.HashData(data),
            "md5" => System.Security.Cryptography.MD5.HashData(data),
            "sha256" => System.Security.Cryptography.SHA256.HashData(data),
            "sha512" => System.Security.Cryptography.SHA512.HashData(data),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        };
#pragma warning restore CA5350, CA5351
        return algorithm + " " + Convert.ToBase64String(digest);
    }

    public static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads one response head from a raw connection: the status code and the headers (names case-insensitive).</summary>
    public static async Task<(int Status, Dictionary<string, string> Headers)> ReadResponseHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[1];
        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!received.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                break;
            }

            received.Append((char)buffer[0]);
        }

        var lines = received.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        lines.Should().NotBeEmpty("a response head was expected");
        lines[0].Should().StartWith("HTTP/1.1 ");
        var status = int.Parse(lines[0].AsSpan(9, 3), CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        return (status, headers);
    }

    /// <summary>
    /// Sends a PATCH with a chunked body whose <c>Upload-Checksum</c> comes as a trailer after the last chunk
    /// (HttpClient cannot send request trailers over HTTP/1.1).
    /// </summary>
    public static async Task<(int Status, Dictionary<string, string> Headers)> PatchWithChecksumTrailerAsync(UploadTestHost host, string url, long offset, byte[] body, string checksum)
    {
        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await RawHttp.WriteHeadAsync(
            stream,
            "PATCH",
            url,
            ("Tus-Resumable", Version),
            ("Content-Type", OffsetOctetStream),
            ("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture)),
            ("Transfer-Encoding", "chunked"),
            ("Trailer", "Upload-Checksum"),
            ("Connection", "close"));
        const int ChunkSize = 4096;
        for (var start = 0; start < body.Length; start += ChunkSize)
        {
            var length = Math.Min(ChunkSize, body.Length - start);
            await stream.WriteAsync(Encoding.ASCII.GetBytes(length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
            await stream.WriteAsync(body.AsMemory(start, length));
            await stream.WriteAsync("\r\n"u8.ToArray());
        }

        await stream.WriteAsync(Encoding.ASCII.GetBytes("0\r\nUpload-Checksum: " + checksum + "\r\n\r\n"));
        await stream.FlushAsync();
        return await ReadResponseHeadAsync(stream);
    }
}
