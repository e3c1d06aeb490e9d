using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>
/// Small helpers that speak draft-ietf-httpbis-resumable-upload the way a client does: HttpClient requests with
/// <c>Upload-Draft-Interop-Version</c>, and hand-written HTTP/1.1 exchanges that show every response head (1xx
/// included) exactly as the server wrote it.
/// </summary>
public static partial class IetfClient
{
    public const string InteropVersion = "Upload-Draft-Interop-Version";
    public const string PartialUpload = "application/partial-upload";
    public const string ProblemTypeBase = "https://iana.org/assignments/http-problem-types#";

    /// <summary>An upload resource as the server hands it out at the root: a slash and 32 lowercase hex digits.</summary>
    [GeneratedRegex("^/(?<id>[0-9a-f]{32})$")]
    public static partial Regex UploadUrl();

    /// <summary>The completion header of a version: <c>Upload-Incomplete</c> (inverted) in 3, <c>Upload-Complete</c> from 4.</summary>
    public static (string Name, string Value) Completion(int version, bool complete)
        => version == 3 ? ("Upload-Incomplete", complete ? "?0" : "?1") : ("Upload-Complete", complete ? "?1" : "?0");

    /// <summary>A request naming <paramref name="version"/> (<see langword="null"/>: no version header; a string: sent as is).</summary>
    public static HttpRequestMessage Request(HttpMethod method, string uri, object? version)
    {
        var request = new HttpRequestMessage(method, new Uri(uri, UriKind.RelativeOrAbsolute));
        if (version is not null)
        {
            request.Headers.TryAddWithoutValidation(InteropVersion, Convert.ToString(version, CultureInfo.InvariantCulture));
        }

        return request;
    }

    /// <summary>A creation request (<c>POST /</c>) with the version's completion header and an optional <c>Upload-Length</c>.</summary>
    /// <summary>Every interop version the front speaks, for theories that hold in all of them.</summary>
    public static TheoryData<int> AllVersions => new() { 3, 4, 5, 6, 7, 8 };

    public static HttpRequestMessage CreateRequest(int version, ReadOnlyMemory<byte> body, bool complete, long? uploadLength = null, object? versionHeader = null)
    {
        var request = Request(HttpMethod.Post, "/", versionHeader ?? version);
        var (name, value) = Completion(version, complete);
        request.Headers.TryAddWithoutValidation(name, value);
        if (uploadLength is long length)
        {
            request.Headers.TryAddWithoutValidation("Upload-Length", length.ToString(CultureInfo.InvariantCulture));
        }

        request.Content = new ReadOnlyMemoryContent(body);
        return request;
    }

    /// <summary>An append request (<c>PATCH</c>) with <c>Upload-Offset</c>, the completion header and (from 6) <c>application/partial-upload</c>.</summary>
    public static HttpRequestMessage PatchRequest(int version, string url, long offset, ReadOnlyMemory<byte> body, bool complete, string? contentType = "default", long? uploadLength = null, string? contentDigest = null)
    {
        var request = Request(HttpMethod.Patch, url, version);
        request.Headers.TryAddWithoutValidation("Upload-Offset", offset.ToString(CultureInfo.InvariantCulture));
        var (name, value) = Completion(version, complete);
        request.Headers.TryAddWithoutValidation(name, value);
        if (uploadLength is long length)
        {
            request.Headers.TryAddWithoutValidation("Upload-Length", length.ToString(CultureInfo.InvariantCulture));
        }

        if (contentDigest is not null)
        {
            request.Headers.TryAddWithoutValidation("Content-Digest", contentDigest);
        }

        request.Content = new ReadOnlyMemoryContent(body);
        var type = contentType == "default" ? (version >= 6 ? PartialUpload : null) : contentType;
        if (type is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }

        return request;
    }

    public static async Task<HttpResponseMessage> CreateAsync(this HttpClient client, int version, ReadOnlyMemory<byte> body, bool complete, long? uploadLength = null)
    {
        using var request = CreateRequest(version, body, complete, uploadLength);
        return await client.SendAsync(request);
    }

    /// <summary>Creates an unfinished upload with <paramref name="body"/> and returns its URL (asserting 201 and the URL's shape).</summary>
    public static async Task<string> CreateIncompleteAsync(this HttpClient client, int version, ReadOnlyMemory<byte> body, long? uploadLength = null)
    {
        using var response = await client.CreateAsync(version, body, complete: false, uploadLength);
        response.StatusCode.Should().Be(HttpStatusCode.Created, "creation should succeed: {0}", await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.OriginalString;
        UploadUrl().IsMatch(location).Should().BeTrue("'{0}' should be an upload resource", location);
        return location;
    }

    public static async Task<HttpResponseMessage> PatchAsync(this HttpClient client, int version, string url, long offset, ReadOnlyMemory<byte> body, bool complete, string? contentType = "default", long? uploadLength = null, string? contentDigest = null)
    {
        using var request = PatchRequest(version, url, offset, body, complete, contentType, uploadLength, contentDigest);
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> HeadAsync(this HttpClient client, object? version, string url)
    {
        using var request = Request(HttpMethod.Head, url, version);
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> DeleteAsync(this HttpClient client, object? version, string url)
    {
        using var request = Request(HttpMethod.Delete, url, version);
        return await client.SendAsync(request);
    }

    /// <summary>The HEAD answer's <c>Upload-Offset</c> (asserting a 2xx).</summary>
    public static async Task<long> GetOffsetAsync(this HttpClient client, int version, string url)
    {
        using var response = await client.HeadAsync(version, url);
        ((int)response.StatusCode).Should().BeInRange(200, 299);
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

    /// <summary>Reads an <c>application/problem+json</c> body (asserting the media type).</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response)
    {
        response.Content.Headers.ContentType?.MediaType.Should().Be("application/problem+json");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>Parses an <c>Upload-Limit</c> dictionary (<c>key=integer, ...</c>).</summary>
    public static Dictionary<string, long> ParseLimit(string? value)
    {
        value.Should().NotBeNullOrEmpty("Upload-Limit was expected");
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var member in value!.Split(','))
        {
            var parts = member.Split('=', 2);
            parts.Should().HaveCount(2, "every member of Upload-Limit has an integer value: '{0}'", value);
            result[parts[0].Trim()] = long.Parse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        }

        return result;
    }

    public static string Sha256Digest(ReadOnlySpan<byte> data) => "sha-256=:" + Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(data)) + ":";

    /// <summary>One response head as written on the wire.</summary>
    public sealed record RawResponse(int Status, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
    {
        public string? Header(string name)
        {
            var values = Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToList();
            return values.Count == 0 ? null : string.Join(',', values);
        }

        public bool Has(string name) => Header(name) is not null;

        public override string ToString() => $"{Status} " + string.Join("; ", Headers.Select(h => h.Key + ": " + h.Value));
    }

    /// <summary>
    /// Sends one request over a fresh connection and returns every response head (informational ones first, then
    /// the final one with its body). <paramref name="headers"/> are written as given; <c>Content-Length</c> is added
    /// for a body.
    /// </summary>
    public static Task<List<RawResponse>> ExchangeAsync(UploadTestHost host, string method, string path, byte[]? body, params (string Name, string Value)[] headers)
        => ExchangeAsync(host.Port, method, path, body, headers);

    public static async Task<List<RawResponse>> ExchangeAsync(int port, string method, string path, byte[]? body, params (string Name, string Value)[] headers)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        var all = headers.ToList();
        if (body is not null)
        {
            all.Add(("Content-Length", body.Length.ToString(CultureInfo.InvariantCulture)));
        }

        all.Add(("Connection", "close"));
        await RawHttp.WriteHeadAsync(stream, method, path, all.ToArray());
        if (body is { Length: > 0 })
        {
            await stream.WriteAsync(body);
            await stream.FlushAsync();
        }

        var reader = new HeadReader(stream);
        var responses = new List<RawResponse>();
        while (true)
        {
            var (status, responseHeaders) = await reader.ReadHeadAsync();
            if (status is >= 100 and < 200)
            {
                responses.Add(new RawResponse(status, responseHeaders, []));
                continue;
            }

            var length = responseHeaders.FirstOrDefault(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
            var hasBody = method != "HEAD" && status is not (204 or 304) && length is not null;
            var content = hasBody ? await reader.ReadBodyAsync(int.Parse(length!, CultureInfo.InvariantCulture)) : [];
            responses.Add(new RawResponse(status, responseHeaders, content));
            return responses;
        }
    }

    /// <summary>The final response of <see cref="ExchangeAsync"/>, asserting that no informational response came first.</summary>
    public static async Task<RawResponse> SendRawAsync(UploadTestHost host, string method, string path, byte[]? body, params (string Name, string Value)[] headers)
    {
        var responses = await ExchangeAsync(host, method, path, body, headers);
        responses.Should().HaveCount(1, "without UseResumableUploadInformationalResponses() no 1xx may be sent; got {0}", string.Join(" | ", responses));
        return responses[0];
    }

    /// <summary>Reads HTTP/1.1 response heads and bodies from a stream, byte by byte (responses here are small).</summary>
    public sealed class HeadReader(NetworkStream stream)
    {
        private readonly byte[] _one = new byte[1];

        public async Task<(int Status, List<KeyValuePair<string, string>> Headers)> ReadHeadAsync()
        {
            var received = new StringBuilder();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (!received.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(_one, timeout.Token);
                if (read == 0)
                {
                    break;
                }

                received.Append((char)_one[0]);
            }

            var lines = received.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
            lines.Should().NotBeEmpty("a response head was expected");
            lines[0].Should().MatchRegex(@"^HTTP/1\.1 \d{3}", "a status line was expected, got: {0}", received.ToString());
            var status = int.Parse(lines[0].AsSpan(9, 3), CultureInfo.InvariantCulture);
            var headers = new List<KeyValuePair<string, string>>();
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }

            return (status, headers);
        }

        public async Task<byte[]> ReadBodyAsync(int length)
        {
            var body = new byte[length];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await stream.ReadExactlyAsync(body, timeout.Token);
            return body;
        }
    }

    public static HttpContent Bytes(ReadOnlyMemory<byte> body, string? contentType = null)
    {
        var content = new ReadOnlyMemoryContent(body);
        if (contentType is not null)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        return content;
    }
}
