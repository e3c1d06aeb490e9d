using System.Net.Http.Headers;

namespace ResumableUpload.Stores.Redis.Tests.Infrastructure;

/// <summary>The X-File-Id protocol's requests (docs/protocol.md).</summary>
internal static class XFileId
{
    public static async Task<HttpResponseMessage> UploadAsync(HttpClient client, string fileId, long startByte, long fileSize, ReadOnlyMemory<byte> body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload") { Content = new ReadOnlyMemoryContent(body) };
        request.Headers.Add("X-File-Id", fileId);
        request.Headers.Add("X-Start-Byte", startByte.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-File-Size", fileSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> StatusAsync(HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.Add("X-File-Id", fileId);
        return await client.SendAsync(request);
    }

    public static Task<byte[]> DownloadAsync(HttpClient client, string fileId)
        => client.GetByteArrayAsync("download?fileId=" + Uri.EscapeDataString(fileId));
}
