using System.Net;

namespace ResumableUpload.Client;

/// <summary>
/// The body of one request: <c>length</c> bytes of the source from <c>offset</c>, read in small buffers. Every buffer
/// handed to the connection re-arms the stall watchdog, and every buffer is reported as progress.
/// </summary>
internal sealed class ChunkContent(UploadSource source, long offset, long length, bool last, StallWatchdog watchdog, Action<long> onSent) : HttpContent
{
    private const int BufferSize = 64 * 1024;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var input = source.Open();
        await using (input.ConfigureAwait(false))
        {
            input.Seek(offset, SeekOrigin.Begin);
            var buffer = new byte[(int)Math.Min(BufferSize, Math.Max(1, length))];
            long sent = 0;
            while (sent < length)
            {
                var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - sent)), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new IOException($"The source ended after {offset + sent} bytes, before its length of {source.Length}; was it changed during the upload?");
                }

                watchdog.Arm();
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                sent += read;
                onSent(sent);
            }

            watchdog.BodySent(last);
        }
    }

    protected override bool TryComputeLength(out long length1)
    {
        length1 = length;
        return true;
    }
}

/// <summary>
/// Cancels a request when the connection accepts no byte for the stall timeout, or the response is late: after the body
/// of a chunk that does not complete the upload, the response must begin within the stall timeout too (the server
/// answers at once once it has the bytes, and socket buffers can swallow a whole chunk of a request that never
/// arrives); after the completing chunk the server may process the file, so it gets the response timeout.
/// </summary>
internal sealed class StallWatchdog(TimeSpan stallTimeout, TimeSpan responseTimeout) : IDisposable
{
    private readonly CancellationTokenSource _source = new();

    public CancellationToken Token => _source.Token;

    public bool Fired => _source.IsCancellationRequested;

    public void Arm() => _source.CancelAfter(stallTimeout);

    public void BodySent(bool last) => _source.CancelAfter(last ? responseTimeout : stallTimeout);

    public void Dispose() => _source.Dispose();
}
