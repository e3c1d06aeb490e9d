using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace ResumableUpload.ScaleOut.Tests;

/// <summary>The X-File-Id client of the multi-instance tests: status, upload and download through nginx or one instance.</summary>
internal static class ScaleOutHttp
{
    public static async Task<HttpStatusCode> SendAsync(HttpClient client, string fileId, Stream body, long startByte, long fileSize, long? contentLength = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "upload");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        request.Headers.TryAddWithoutValidation("X-Start-Byte", startByte.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("X-File-Size", fileSize.ToString(CultureInfo.InvariantCulture));
        request.Content = new StreamContent(body, 64 * 1024);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.ContentLength = contentLength ?? fileSize - startByte;
        try
        {
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            return (HttpStatusCode)0; // the connection died
        }
    }

    public static async Task<long> StatusAsync(HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "status");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        using var response = await client.SendAsync(request);
        return response.IsSuccessStatusCode ? long.Parse(await response.Content.ReadAsStringAsync(), NumberStyles.None, CultureInfo.InvariantCulture) : -1;
    }

    public static async Task<byte[]> DownloadAsync(HttpClient client, string fileId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "download");
        request.Headers.TryAddWithoutValidation("X-File-Id", fileId);
        using var response = await client.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static async Task<bool> Eventually(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return true;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
            }

            await Task.Delay(250);
        }

        return false;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A body that sends its first bytes and then waits (a stalled client) until cancelled.</summary>
    public sealed class StallingStream(byte[] source, int stallAt, CancellationToken released) : MemoryStream(source, 0, source.Length, writable: false)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Position >= stallAt)
            {
                await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(released, cancellationToken).Token).ContinueWith(_ => { }, TaskScheduler.Default);
                throw new IOException("The client stopped sending.");
            }

            return await base.ReadAsync(buffer[..(int)Math.Min(buffer.Length, stallAt - Position)], cancellationToken);
        }
    }

}
