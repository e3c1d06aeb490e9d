using System.Net;
using System.Net.Http.Headers;

namespace ResumableUpload.Middleware.Tests.Faults;

/// <summary>
/// A request body sent in blocks with a pause between them (a Content-Length body, like a browser's), so the server
/// reads it in several pieces and publishes progress before a fault further on.
/// </summary>
internal sealed class TrickleContent : HttpContent
{
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly int _block;
    private readonly TimeSpan _pause;

    public TrickleContent(ReadOnlyMemory<byte> bytes, string contentType, int block = 32 * 1024, TimeSpan? pause = null)
    {
        _bytes = bytes;
        _block = block;
        _pause = pause ?? TimeSpan.FromMilliseconds(5);
        Headers.ContentType = new MediaTypeHeaderValue(contentType);
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        for (var start = 0; start < _bytes.Length; start += _block)
        {
            await stream.WriteAsync(_bytes.Slice(start, Math.Min(_block, _bytes.Length - start)));
            await stream.FlushAsync();
            await Task.Delay(_pause);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _bytes.Length;
        return true;
    }
}
