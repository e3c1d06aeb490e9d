using System.Net;
using System.Net.Sockets;

namespace ResumableUpload.Client.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of a server, which breaks connections the way networks do: every
/// <see cref="DropEveryBytes"/> bytes of request traffic it resets the connection carrying them mid-body, and once it
/// can stall (forward nothing, keep the connection open) after <see cref="StallAfterBytes"/> bytes. While the upstream
/// is down (a server restart) it closes the connections it accepts.
/// </summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Func<int> _upstreamPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _forwarded;
    private long _nextDrop;
    private int _stalled;

    public TcpProxy(Func<int> upstreamPort, long dropEveryBytes = 0, long stallAfterBytes = 0)
    {
        _upstreamPort = upstreamPort;
        DropEveryBytes = dropEveryBytes;
        StallAfterBytes = stallAfterBytes;
        _nextDrop = dropEveryBytes;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public long DropEveryBytes { get; }

    public long StallAfterBytes { get; }

    public int Drops;

    public int Stalls;

    public Uri BaseAddress => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort(), _stop.Token);
            }
            catch (SocketException)
            {
                client.Client.Close(0);
                return;
            }

            using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var up = PumpAsync(client.GetStream(), upstream.GetStream(), countRequests: true, connection, client);
            var down = PumpAsync(upstream.GetStream(), client.GetStream(), countRequests: false, connection, client);
            await Task.WhenAny(up, down);
            await connection.CancelAsync();
            client.Client.Close(0);
            upstream.Client.Close(0);
            await Task.WhenAll(up, down).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool countRequests, CancellationTokenSource connection, TcpClient client)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, connection.Token);
                if (read == 0)
                {
                    return;
                }

                if (countRequests)
                {
                    var total = Interlocked.Add(ref _forwarded, read);
                    if (StallAfterBytes > 0 && total >= StallAfterBytes && Interlocked.Exchange(ref _stalled, 1) == 0)
                    {
                        // Forward nothing more (a black hole that still accepts the bytes), until the client gives up and
                        // closes; then the upstream connection is closed too, as the server's own timeouts would.
                        Interlocked.Increment(ref Stalls);
                        while (await from.ReadAsync(buffer, connection.Token) > 0)
                        {
                        }

                        return;
                    }

                    var next = Interlocked.Read(ref _nextDrop);
                    if (DropEveryBytes > 0 && total >= next && Interlocked.CompareExchange(ref _nextDrop, next + DropEveryBytes, next) == next)
                    {
                        // Forward part of this read, then reset the connection mid-body.
                        await to.WriteAsync(buffer.AsMemory(0, read / 2), connection.Token);
                        Interlocked.Increment(ref Drops);
                        client.Client.LingerState = new LingerOption(true, 0);
                        return;
                    }
                }

                await to.WriteAsync(buffer.AsMemory(0, read), connection.Token);
            }
        }
        catch (Exception) when (connection.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
    }
}
