using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using ResumableUpload.Middleware.Protocols.Ietf;
using ResumableUpload.Middleware.Protocols.XFileId;

namespace ResumableUpload.Benchmarks;

/// <summary>The headers every append reads: X-File-Id, X-Start-Byte, X-File-Size; tus/IETF Upload-Offset and Upload-Complete.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class HeaderParsingBenchmarks
{
    private HttpRequest _request = null!;

    [GlobalSetup]
    public void Setup()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["X-File-Id"] = "holiday-video.mp4-1073741824-1732600000000";
        context.Request.Headers["X-Start-Byte"] = "536870912";
        context.Request.Headers["X-File-Size"] = "1073741824";
        context.Request.Headers["Upload-Offset"] = "536870912";
        context.Request.Headers["Upload-Complete"] = "?1";
        _request = context.Request;
    }

    [Benchmark]
    public long XFileIdHeaders()
    {
        var id = ResumableUpload.Middleware.Protocols.XFileId.XFileIdHeaders.ReadFileId(_request, 1024);
        var start = ResumableUpload.Middleware.Protocols.XFileId.XFileIdHeaders.ReadOptionalNumber(_request, "X-Start-Byte") ?? 0;
        var size = ResumableUpload.Middleware.Protocols.XFileId.XFileIdHeaders.ReadOptionalNumber(_request, "X-File-Size") ?? 0;
        return id.Length + start + size;
    }

    [Benchmark]
    public long IetfHeaders()
    {
        var offset = ResumableUpload.Middleware.Protocols.Ietf.IetfHeaders.ReadInteger(_request, "Upload-Offset") ?? 0;
        var complete = ResumableUpload.Middleware.Protocols.Ietf.IetfHeaders.ReadBoolean(_request, "Upload-Complete") ?? false;
        return offset + (complete ? 1 : 0);
    }

    [Benchmark]
    public string UploadKey() => ResumableUpload.Middleware.Engine.UploadKeys.Create("anonymous", "holiday-video.mp4-1073741824-1732600000000");
}
