using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ResumableUpload.Middleware.Diagnostics;

/// <summary>
/// The package's meter and activity source, both named <c>ResumableUpload.Middleware</c> (OpenTelemetry:
/// <c>AddMeter(...)</c> / <c>AddSource(...)</c>). A singleton service, created through <see cref="IMeterFactory"/>.
/// </summary>
internal sealed class ResumableUploadDiagnostics : IDisposable
{
    public const string Name = "ResumableUpload.Middleware";

    private readonly Meter _meter;

    public ResumableUploadDiagnostics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        ActivitySource = new ActivitySource(Name, typeof(ResumableUploadDiagnostics).Assembly.GetName().Version?.ToString());
        BytesReceived = _meter.CreateCounter<long>("resumable_upload.bytes_received", "By", "Bytes written to the data store.");
        UploadsStarted = _meter.CreateCounter<long>("resumable_upload.uploads.started", "{upload}", "Uploads created or restarted from byte 0.");
        UploadsCompleted = _meter.CreateCounter<long>("resumable_upload.uploads.completed", "{upload}", "Uploads that received all their bytes.");
        UploadsFailed = _meter.CreateCounter<long>("resumable_upload.uploads.failed", "{request}", "Append requests that ended in an error (tag error.type).");
        UploadsResumed = _meter.CreateCounter<long>("resumable_upload.uploads.resumed", "{request}", "Append requests that continued an upload from a non-zero offset.");
        Conflicts = _meter.CreateCounter<long>("resumable_upload.conflicts", "{request}", "Requests refused because of an offset or length conflict or a held lock.");
        ClientDisconnects = _meter.CreateCounter<long>("resumable_upload.client_disconnects", "{request}", "Append requests whose client went away before the body ended.");
        ActiveWrites = _meter.CreateUpDownCounter<long>("resumable_upload.active_writes", "{request}", "Append requests currently writing.");
        UploadsExpired = _meter.CreateCounter<long>("resumable_upload.uploads.expired", "{upload}", "Uploads removed by expiry.");
    }

    public ActivitySource ActivitySource { get; }

    public Counter<long> BytesReceived { get; }

    public Counter<long> UploadsStarted { get; }

    public Counter<long> UploadsCompleted { get; }

    public Counter<long> UploadsFailed { get; }

    public Counter<long> UploadsResumed { get; }

    public Counter<long> Conflicts { get; }

    public Counter<long> ClientDisconnects { get; }

    public UpDownCounter<long> ActiveWrites { get; }

    public Counter<long> UploadsExpired { get; }

    public void Dispose()
    {
        ActivitySource.Dispose();
        _meter.Dispose();
    }
}
