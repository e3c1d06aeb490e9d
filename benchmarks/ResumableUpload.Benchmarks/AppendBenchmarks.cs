using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Benchmarks;

/// <summary>
/// The whole append path of one request (lock, offset check, create, open, stream, flush, publish, release) into the
/// filesystem stores, at two body sizes. With <see cref="PublishInterval"/> larger than the body, nothing is published
/// mid-body, so the allocated bytes show what the path costs per request; they must not grow with the body.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class AppendBenchmarks
{
    private ServiceProvider _services = null!;
    private UploadEngine _engine = null!;
    private RepeatingPipeReader _body = null!;
    private string _root = null!;

    [Params(4L << 20, 64L << 20)]
    public long BodySize { get; set; }

    /// <summary><c>ProgressPublishInterval</c>: the default (1 MiB), or 1 GiB (published once, at the end).</summary>
    [Params(1 << 20, 1 << 30)]
    public int PublishInterval { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("ru-bench-append-").FullName;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddResumableUploads(o =>
        {
            o.MaxUploadSize = 1L << 40;
            o.ProgressPublishInterval = PublishInterval;
        }).AddFileSystemStores(_root);
        _services = services.BuildServiceProvider();
        _engine = _services.GetRequiredService<UploadEngine>();
        _body = new RepeatingPipeReader();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark]
    public async Task<long> AppendWholeBody()
    {
        var session = await _engine.BeginAppendAsync(new AppendRequest("anonymous", "bench", 0, BodySize, BodySize, null), CancellationToken.None);
        await using (session)
        {
            _body.Reset(BodySize);
            var record = await session.AppendAsync(_body, completeWhenBodyEnds: true, CancellationToken.None);
            return record.Offset;
        }
    }
}

/// <summary>
/// One chunk (64 KiB in 16 pipe segments of 4 KiB) into a file: the filesystem writer's vectored write against the
/// way it wrote before (one asynchronous positional write per segment).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ChunkWriteBenchmarks
{
    private const int ChunksPerFile = 256; // 16 MiB, then the file starts again
    private ServiceProvider _services = null!;
    private IUploadDataStore _store = null!;
    private IUploadDataWriter _writer = null!;
    private Microsoft.Win32.SafeHandles.SafeFileHandle _handle = null!;
    private RepeatingPipeReader _body = null!;
    private string _root = null!;
    private long _position;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("ru-bench-chunk-").FullName;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddResumableUploads().AddFileSystemStores(_root);
        _services = services.BuildServiceProvider();
        _store = _services.GetRequiredService<IUploadDataStore>();
        _writer = _store.OpenWriterAsync(new string('a', 64), 0, null, 1, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        _handle = File.OpenHandle(Path.Combine(_root, "old.bin"), FileMode.Create, FileAccess.ReadWrite);
        _body = new RepeatingPipeReader();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _handle.Dispose();
        _services.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = ChunksPerFile)]
    public async Task PerSegmentAsyncWrite()
    {
        RandomAccess.SetLength(_handle, 0); // as the store's writer does when it opens at offset 0
        _position = 0;
        for (var i = 0; i < ChunksPerFile; i++)
        {
            foreach (var segment in _body.Chunk)
            {
                await RandomAccess.WriteAsync(_handle, segment, _position);
                _position += segment.Length;
            }
        }
    }

    [Benchmark(OperationsPerInvoke = ChunksPerFile)]
    public async Task VectoredWrite()
    {
        await _writer.DisposeAsync();
        _writer = await _store.OpenWriterAsync(new string('a', 64), 0, null, 1, CancellationToken.None);
        var sequenceWriter = (IUploadDataSequenceWriter)_writer;
        for (var i = 0; i < ChunksPerFile; i++)
        {
            await sequenceWriter.WriteAsync(_body.Chunk, CancellationToken.None);
        }
    }
}
