using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Diagnostics;

/// <summary>The meter, activity source and log event ids are what operators build dashboards and alerts on.</summary>
public sealed class TelemetryTests
{
    private const string Name = "ResumableUpload.Middleware";

    [Fact]
    public async Task Meter_OneUpload_CountsBytesAndOneCompletion()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var metrics = new HostMetrics(host);
        var file = Protocol.RandomBytes(10_000);

        (await host.Client.UploadAsync("metered", file)).StatusCode.Should().Be(HttpStatusCode.OK);

        metrics.Sum("resumable_upload.bytes_received").Should().Be(file.Length);
        metrics.Sum("resumable_upload.uploads.completed").Should().Be(1);
        metrics.Sum("resumable_upload.uploads.started").Should().Be(1);
        metrics.Sum("resumable_upload.active_writes").Should().Be(0, "every write that started has ended");
    }

    [Fact]
    public async Task Meter_ResumedUpload_CountsBytesOnceAndAResume()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var metrics = new HostMetrics(host);
        var file = Protocol.RandomBytes(10_000);

        (await host.Client.UploadAsync("resumed", file.AsMemory(0, 9_000), startByte: 0, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("resumed", file.AsMemory(9_000), startByte: 9_000, fileSize: file.Length)).StatusCode.Should().Be(HttpStatusCode.OK);

        metrics.Sum("resumable_upload.bytes_received").Should().Be(file.Length);
        metrics.Sum("resumable_upload.uploads.started").Should().Be(1);
        metrics.Sum("resumable_upload.uploads.resumed").Should().Be(1);
        metrics.Sum("resumable_upload.uploads.completed").Should().Be(1);
    }

    [Fact]
    public async Task Meter_OffsetConflict_CountsAConflictAndNoBytes()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var metrics = new HostMetrics(host);

        (await host.Client.UploadAsync("conflict", Protocol.RandomBytes(100), startByte: 5, fileSize: 200)).StatusCode.Should().Be(HttpStatusCode.Conflict);

        metrics.Sum("resumable_upload.conflicts").Should().Be(1);
        metrics.Sum("resumable_upload.bytes_received").Should().Be(0);
        metrics.Sum("resumable_upload.uploads.completed").Should().Be(0);
    }

    [Fact]
    public async Task Meter_BodyTooLarge_CountsAFailureTaggedWithItsType()
    {
        await using var host = await UploadTestHost.StartAsync(configureOptions: o => o.MaxUploadSize = 100);
        using var metrics = new HostMetrics(host);

        (await host.Client.UploadAsync("too-large", Protocol.RandomBytes(101))).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);

        metrics.Sum("resumable_upload.uploads.failed").Should().Be(1);
        metrics.Tags("resumable_upload.uploads.failed").Should().ContainSingle()
            .Which.Should().Contain(new KeyValuePair<string, object?>("error.type", "TooLarge"));
        metrics.Sum("resumable_upload.uploads.completed").Should().Be(0);
    }

    [Fact]
    public async Task Meter_TwoHosts_MeasurementsStayWithTheirHost()
    {
        await using var host = await UploadTestHost.StartAsync();
        await using var other = await UploadTestHost.StartAsync();
        using var metrics = new HostMetrics(host);

        (await other.Client.UploadAsync("elsewhere", Protocol.RandomBytes(5_000))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await host.Client.UploadAsync("here", Protocol.RandomBytes(123))).StatusCode.Should().Be(HttpStatusCode.OK);

        metrics.Sum("resumable_upload.bytes_received").Should().Be(123, "the other host's meter is another instance");
        metrics.Sum("resumable_upload.uploads.completed").Should().Be(1);
    }

    [Fact]
    public async Task ActivitySource_AppendAndStatus_AreTracedUnderTheCallersTrace()
    {
        using var testSource = new ActivitySource("ResumableUpload.Middleware.Tests." + nameof(TelemetryTests));
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is Name or "Microsoft.AspNetCore" || source == testSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await UploadTestHost.StartAsync();

        ActivityTraceId traceId;
        using (var root = testSource.StartActivity("test"))
        {
            root.Should().NotBeNull();
            traceId = root!.TraceId;
            (await host.Client.UploadAsync("traced", Protocol.RandomBytes(1_000))).StatusCode.Should().Be(HttpStatusCode.OK);
            (await host.Client.GetStatusAsync("traced")).Should().Be(1_000);
        }

        List<Activity> Ours() => stopped.Where(a => a.TraceId == traceId && a.Source.Name == Name).ToList();
        (await Protocol.EventuallyAsync(() => Task.FromResult(Ours().Count >= 2))).Should().BeTrue("both server activities end");
        var append = Ours().Should().ContainSingle(a => a.OperationName == "ResumableUpload.Append").Subject;
        var status = Ours().Should().ContainSingle(a => a.OperationName == "ResumableUpload.Status").Subject;
        append.GetTagItem("resumable_upload.offset").Should().Be(1_000L);
        status.GetTagItem("resumable_upload.offset").Should().Be(1_000L);
        append.Source.Name.Should().Be(Name);
    }

    [Fact]
    public async Task Logs_CompletedUpload_HaveUploadCompletedEventId3()
    {
        await using var host = await UploadTestHost.StartAsync();

        (await host.Client.UploadAsync("logged", Protocol.RandomBytes(2_000))).StatusCode.Should().Be(HttpStatusCode.OK);

        var completed = host.Logs.LibraryEntries.Should().ContainSingle(e => e.EventId.Id == 3).Subject;
        completed.EventId.Name.Should().Be("UploadCompleted");
        completed.Message.Should().Contain("2000 bytes");
    }

    [Fact]
    public async Task Logs_ClientCutsItsBody_HaveClientDisconnectedEventId4AndBytesAreKept()
    {
        await using var host = await UploadTestHost.StartAsync();
        using var metrics = new HostMetrics(host);

        using (var tcp = await host.ConnectAsync())
        {
            var stream = tcp.GetStream();
            await RawHttp.WriteHeadAsync(stream, "POST", "/upload", ("X-File-Id", "cut"), ("X-Start-Byte", "0"), ("Content-Length", "100000"));
            await stream.WriteAsync(Protocol.RandomBytes(1_000));
            await stream.FlushAsync();

            // Wait until the bytes are in the store, so the cut happens mid-body rather than before the request is read.
            (await Protocol.EventuallyAsync(() => Task.FromResult(metrics.Sum("resumable_upload.bytes_received") >= 1_000))).Should().BeTrue();
        }

        (await Protocol.EventuallyAsync(() => Task.FromResult(host.Logs.LibraryEntries.Any(e => e.EventId.Id == 4)))).Should().BeTrue("the disconnect is logged");
        var disconnected = host.Logs.LibraryEntries.Single(e => e.EventId.Id == 4);
        disconnected.EventId.Name.Should().Be("ClientDisconnected");
        disconnected.Message.Should().Contain("offset 1000");
        (await host.Client.GetStatusAsync("cut")).Should().Be(1_000, "bytes stored before the connection dropped are kept and counted");
        metrics.Sum("resumable_upload.client_disconnects").Should().Be(1);
        host.Logs.LibraryEntries.Should().NotContain(e => e.EventId.Id == 3, "a cut body does not complete an upload of unknown length");
    }

    /// <summary>Listens to the meter of one host only: meters from IMeterFactory are scoped to their factory.</summary>
    private sealed class HostMetrics : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _sums = new();
        private readonly ConcurrentDictionary<string, ConcurrentQueue<KeyValuePair<string, object?>[]>> _tags = new();

        public HostMetrics(UploadTestHost host)
        {
            var factory = host.Services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == Name && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            {
                _sums.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value);
                _tags.GetOrAdd(instrument.Name, _ => new()).Enqueue(tags.ToArray());
            });
            _listener.Start();
        }

        public long Sum(string instrument) => _sums.GetValueOrDefault(instrument);

        public List<KeyValuePair<string, object?>[]> Tags(string instrument)
            => _tags.TryGetValue(instrument, out var tags) ? tags.ToList() : [];

        public void Dispose() => _listener.Dispose();
    }
}
