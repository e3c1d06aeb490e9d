using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace ResumableUpload.Middleware.Tests.Infrastructure;

/// <summary>Small helpers that speak the X-File-Id protocol the way a client does.</summary>
public static class Protocol
{
    public static async Task<long> GetStatusAsync(this HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        using var response = await client.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return long.Parse(await response.Content.ReadAsStringAsync(), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    public static HttpRequestMessage UploadRequest(string fileId, ReadOnlyMemory<byte> body, long? startByte = 0, long? fileSize = null, bool chunked = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "upload");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        if (startByte is long start)
        {
            request.Headers.TryAddWithoutValidation("X-Start-Byte", start.ToString(CultureInfo.InvariantCulture));
        }

        if (fileSize is long size)
        {
            request.Headers.TryAddWithoutValidation("X-File-Size", size.ToString(CultureInfo.InvariantCulture));
        }

        HttpContent content = chunked ? new StreamContent(new MemoryStream(body.ToArray())) : new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        request.Content = content;
        return request;
    }

    public static async Task<HttpResponseMessage> UploadAsync(this HttpClient client, string fileId, ReadOnlyMemory<byte> body, long? startByte = 0, long? fileSize = null, bool chunked = false)
    {
        using var request = UploadRequest(fileId, body, startByte, fileSize, chunked);
        return await client.SendAsync(request);
    }

    public static async Task<byte[]> DownloadAsync(this HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "download");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        using var response = await client.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK, "the finished upload {0} should be downloadable", fileId);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static byte[] RandomBytes(int length, int seed = 42)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes));

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes (a hang guard, not a speed check).</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(20);
        }

        return await condition();
    }
}
