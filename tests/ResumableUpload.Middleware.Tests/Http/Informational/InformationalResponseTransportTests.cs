using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using ResumableUpload.Middleware.Http.Informational;

namespace ResumableUpload.Middleware.Tests.Http.Informational;

/// <summary>The output wrapper on its own, against a real <see cref="Pipe"/>: when it writes, when it refuses, how flushes chain.</summary>
public sealed class InformationalResponseTransportTests
{
    private const string Informational = "HTTP/1.1 104 Upload Resumption Supported\r\nLocation: /f\r\n\r\n";
    private static readonly KeyValuePair<string, string>[] Headers = [new("Location", "/f")];

    private static (InformationalResponseTransport Transport, Pipe Pipe, DefaultConnectionContext Connection) Create(PipeOptions? options = null)
    {
        var pipe = new Pipe(options ?? new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        var input = new Pipe();
        var connection = new DefaultConnectionContext("test", new DuplexPipe(input.Reader, pipe.Writer), new DuplexPipe(pipe.Reader, input.Writer));
        var transport = new InformationalResponseTransport(connection, connection.Transport);
        connection.Transport = transport;
        return (transport, pipe, connection);
    }

    private static ValueTask<bool> SendAsync(InformationalResponseTransport transport, Func<bool>? canSend = null)
        => transport.TrySendAsync(104, "Upload Resumption Supported", Headers, canSend, CancellationToken.None);

    private static async Task<string> ReadAllAsync(Pipe pipe)
    {
        var result = await pipe.Reader.ReadAsync();
        var text = Encoding.ASCII.GetString(result.Buffer.ToArray());
        pipe.Reader.AdvanceTo(result.Buffer.End);
        return text;
    }

    private static void Write(PipeWriter writer, string text) => writer.Write(Encoding.ASCII.GetBytes(text));

    [Fact]
    public async Task BetweenWrites_BytesGoAfterWhatWasWrittenBefore()
    {
        var (transport, pipe, _) = Create();
        Write(transport.Output, "before;");
        await transport.Output.FlushAsync();

        (await SendAsync(transport)).Should().BeTrue();
        Write(transport.Output, "after;");
        await transport.Output.FlushAsync();

        (await ReadAllAsync(pipe)).Should().Be("before;" + Informational + "after;");
    }

    [Fact]
    public async Task WhileABufferIsHeld_Refuses_ThenSendsOnceAdvanced()
    {
        var (transport, pipe, _) = Create();
        var memory = transport.Output.GetMemory(16);

        (await SendAsync(transport)).Should().BeFalse("the writer is mid-write");

        Encoding.ASCII.GetBytes("head;").CopyTo(memory);
        transport.Output.Advance(5);
        (await SendAsync(transport)).Should().BeTrue();
        (await ReadAllAsync(pipe)).Should().Be("head;" + Informational);
    }

    [Fact]
    public async Task WhenCanSendSaysNo_Refuses_NothingWritten()
    {
        var (transport, pipe, _) = Create();

        (await SendAsync(transport, () => false)).Should().BeFalse();
        Write(transport.Output, "x");
        await transport.Output.FlushAsync();

        (await ReadAllAsync(pipe)).Should().Be("x");
    }

    [Fact]
    public async Task WhenTheTransportWasWrappedAgain_Refuses()
    {
        var (transport, _, connection) = Create();
        connection.Transport = new DuplexPipe(transport.Input, transport.Output);

        (await SendAsync(transport)).Should().BeFalse();
    }

    [Fact]
    public async Task AfterCompleteOrDisable_Refuses()
    {
        var (completed, _, _) = Create();
        await completed.Output.CompleteAsync();
        (await SendAsync(completed)).Should().BeFalse();

        var (disabled, _, _) = Create();
        disabled.Disable();
        (await SendAsync(disabled)).Should().BeFalse();
    }

    [Fact]
    public async Task PendingFlush_LaterFlushesChainAfterIt_InOrder()
    {
        var (transport, pipe, _) = Create(new PipeOptions(pauseWriterThreshold: 8, resumeWriterThreshold: 4, useSynchronizationContext: false));
        Write(transport.Output, "0123456789;");
        var first = transport.Output.FlushAsync();
        first.IsCompleted.Should().BeFalse("the reader has not read yet (backpressure)");

        var informational = SendAsync(transport);
        informational.IsCompleted.Should().BeFalse("its flush waits for the pending one");
        Write(transport.Output, "after;");
        var last = transport.Output.FlushAsync();

        var expected = "0123456789;" + Informational + "after;";
        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (received.Length < expected.Length)
        {
            var result = await pipe.Reader.ReadAsync(timeout.Token);
            received.Append(Encoding.ASCII.GetString(result.Buffer.ToArray()));
            pipe.Reader.AdvanceTo(result.Buffer.End);
        }

        (await first).IsCanceled.Should().BeFalse();
        (await informational).Should().BeTrue();
        (await last).IsCanceled.Should().BeFalse();
        received.ToString().Should().Be(expected);
    }

    [Fact]
    public async Task CancelPendingFlush_AlsoCancelsAChainedFlush()
    {
        var (transport, _, _) = Create(new PipeOptions(pauseWriterThreshold: 8, resumeWriterThreshold: 4, useSynchronizationContext: false));
        Write(transport.Output, "0123456789;");
        var first = transport.Output.FlushAsync();
        Write(transport.Output, "more;");
        var chained = transport.Output.FlushAsync();

        transport.Output.CancelPendingFlush();

        (await first).IsCanceled.Should().BeTrue();
        (await chained).IsCanceled.Should().BeTrue();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
