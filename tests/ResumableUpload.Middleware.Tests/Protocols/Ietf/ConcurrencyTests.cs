using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Protocols.Ietf;

/// <summary>
/// "If a HEAD, PATCH or DELETE arrives while an earlier creation or append on the same upload is still running, the
/// resource SHOULD terminate the earlier request first" (-06), and "MUST NOT return a stale offset" (-09).
/// </summary>
public sealed class ConcurrencyTests
{
    private const int FileSize = 300_000;
    private const int Sent = 100_000;

    [Fact]
    public async Task Head_WhileAnEarlierPatchIsStillSending_EndsItAndReportsItsBytes_ThenThePatchFromThatOffsetCompletes()
    {
        var counter = new CountingDataStore.Holder();
        await using var host = await UploadTestHost.StartAsync(configureServices: s => CountingDataStore.Decorate(s, counter));
        var file = Protocol.RandomBytes(FileSize);
        var url = await host.Client.CreateIncompleteAsync(8, ReadOnlyMemory<byte>.Empty, uploadLength: FileSize);

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await StartPatchAsync(stream, url, file);
        (await Protocol.EventuallyAsync(() => Task.FromResult(counter.Store!.Written >= Sent), TimeSpan.FromSeconds(60)))
            .Should().BeTrue("the server should have stored the {0} bytes sent so far", Sent);

        using var other = host.CreateClient();
        using var head = await other.HeadAsync(8, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be(Sent.ToString(CultureInfo.InvariantCulture), "the offset includes every byte the earlier request delivered, and is not stale");
        head.Header("Upload-Complete").Should().Be("?0");
        (await ServerClosedAsync(stream)).Should().BeTrue("the earlier request's connection is closed by the server, without a response");

        using var resumed = await other.PatchAsync(8, url, Sent, file.AsMemory(Sent), complete: true);
        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        resumed.Header("Upload-Complete").Should().Be("?1");
        (await other.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task Head_WhileAnEarlierPatchWithContentDigestIsSending_EndsItWithout2xx_AndNothingOfItCounts(int version)
    {
        // Issue #11: an append carrying a checksum that was superseded used to end with the server's default 200, which
        // in interop 7 and 8 means "complete", while nothing was kept.
        var counter = new CountingDataStore.Holder();
        await using var host = await UploadTestHost.StartAsync(configureServices: s => CountingDataStore.Decorate(s, counter));
        var file = Protocol.RandomBytes(FileSize, seed: version);
        var url = await host.Client.CreateIncompleteAsync(version, ReadOnlyMemory<byte>.Empty, uploadLength: FileSize);

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await StartPatchAsync(stream, url, file, version, ("Content-Digest", IetfClient.Sha256Digest(file)));
        (await Protocol.EventuallyAsync(() => Task.FromResult(counter.Store!.Written >= Sent), TimeSpan.FromSeconds(60))).Should().BeTrue();

        using var other = host.CreateClient();
        using var head = await other.HeadAsync(version, url);

        head.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.Header("Upload-Offset").Should().Be("0", "a body that did not arrive whole cannot be checked against its digest, so none of it counts");
        (await ServerClosedAsync(stream)).Should().BeTrue("the superseded request gets no response at all, least of all a 2xx");
    }

    [Fact]
    public async Task Patch_WhileAnEarlierPatchIsStillSending_EndsItAndAppendsFromItsOffset()
    {
        var counter = new CountingDataStore.Holder();
        await using var host = await UploadTestHost.StartAsync(configureServices: s => CountingDataStore.Decorate(s, counter));
        var file = Protocol.RandomBytes(FileSize, seed: 7);
        var url = await host.Client.CreateIncompleteAsync(6, ReadOnlyMemory<byte>.Empty, uploadLength: FileSize);

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await StartPatchAsync(stream, url, file, version: 6);
        (await Protocol.EventuallyAsync(() => Task.FromResult(counter.Store!.Written >= Sent), TimeSpan.FromSeconds(60))).Should().BeTrue();

        // A new append at the offset the earlier one reached: not 423, not 409.
        using var other = host.CreateClient();
        using var resumed = await other.PatchAsync(6, url, Sent, file.AsMemory(Sent), complete: true);

        resumed.StatusCode.Should().Be(HttpStatusCode.Created);
        resumed.Header("Upload-Offset").Should().Be(FileSize.ToString(CultureInfo.InvariantCulture));
        (await ServerClosedAsync(stream)).Should().BeTrue();
        (await other.GetByteArrayAsync(url)).Should().Equal(file);
    }

    [Fact]
    public async Task Delete_WhileAnEarlierPatchIsStillSending_EndsItAndRemovesTheUpload()
    {
        var counter = new CountingDataStore.Holder();
        await using var host = await UploadTestHost.StartAsync(configureServices: s => CountingDataStore.Decorate(s, counter));
        var file = Protocol.RandomBytes(FileSize, seed: 8);
        var url = await host.Client.CreateIncompleteAsync(8, ReadOnlyMemory<byte>.Empty, uploadLength: FileSize);

        using var tcp = await host.ConnectAsync();
        var stream = tcp.GetStream();
        await StartPatchAsync(stream, url, file);
        (await Protocol.EventuallyAsync(() => Task.FromResult(counter.Store!.Written >= Sent), TimeSpan.FromSeconds(60))).Should().BeTrue();

        using var other = host.CreateClient();
        using var delete = await other.DeleteAsync(8, url);
        using var head = await other.HeadAsync(8, url);

        delete.StatusCode.Should().Be(HttpStatusCode.NoContent);
        head.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await ServerClosedAsync(stream)).Should().BeTrue();
    }

    private static async Task StartPatchAsync(NetworkStream stream, string url, byte[] file, int version = 8, params (string Name, string Value)[] extraHeaders)
    {
        await RawHttp.WriteHeadAsync(
            stream,
            "PATCH",
            url,
            [
                (IetfClient.InteropVersion, version.ToString(CultureInfo.InvariantCulture)),
                ("Upload-Offset", "0"),
                ("Upload-Complete", "?1"),
                ("Content-Type", IetfClient.PartialUpload),
                ("Content-Length", file.Length.ToString(CultureInfo.InvariantCulture)),
                .. extraHeaders,
            ]);
        await stream.WriteAsync(file.AsMemory(0, Sent));
        await stream.FlushAsync();
    }

    /// <summary>Whether the server ends the connection (FIN or RST) without sending a response; waits generously.</summary>
    private static async Task<bool> ServerClosedAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, timeout.Token);
                if (read == 0)
                {
                    return received == 0;
                }

                received += read;
            }
        }
        catch (IOException)
        {
            return received == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A data store decorator that counts the bytes written to the store (so a test knows what the server holds).</summary>
    internal sealed class CountingDataStore(IUploadDataStore inner) : IUploadDataStore
    {
        private long _written;

        public long Written => Interlocked.Read(ref _written);

        public static void Decorate(IServiceCollection services, Holder holder)
        {
            var descriptor = services.Last(d => d.ServiceType == typeof(IUploadDataStore));
            services.Remove(descriptor);
            services.AddSingleton<IUploadDataStore>(sp =>
            {
                var store = descriptor.ImplementationInstance as IUploadDataStore
                            ?? descriptor.ImplementationFactory?.Invoke(sp) as IUploadDataStore
                            ?? (IUploadDataStore)ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!);
                holder.Store = new CountingDataStore(store);
                return holder.Store;
            });
        }

        public async ValueTask<IUploadDataWriter> OpenWriterAsync(string key, long offset, long? expectedLength, long fencingToken, CancellationToken cancellationToken)
            => new Writer(this, await inner.OpenWriterAsync(key, offset, expectedLength, fencingToken, cancellationToken));

        public ValueTask<Stream?> OpenReadAsync(string key, CancellationToken cancellationToken) => inner.OpenReadAsync(key, cancellationToken);

        public ValueTask CompleteAsync(string key, long length, long fencingToken, CancellationToken cancellationToken) => inner.CompleteAsync(key, length, fencingToken, cancellationToken);

        public ValueTask DeleteAsync(string key, CancellationToken cancellationToken) => inner.DeleteAsync(key, cancellationToken);

        internal sealed class Holder
        {
            public CountingDataStore? Store { get; set; }
        }

        private sealed class Writer(CountingDataStore owner, IUploadDataWriter inner) : IUploadDataWriter
        {
            public long Position => inner.Position;

            public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
            {
                await inner.WriteAsync(data, cancellationToken);
                Interlocked.Add(ref owner._written, data.Length);
            }

            public ValueTask FlushAsync(bool toDisk, CancellationToken cancellationToken) => inner.FlushAsync(toDisk, cancellationToken);

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }
}
