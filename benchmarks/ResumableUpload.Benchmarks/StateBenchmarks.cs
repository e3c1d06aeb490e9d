using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Benchmarks;

/// <summary>A state update (what each publish costs) and a state read (what each offset query costs) in the filesystem state store.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class StateBenchmarks
{
    private ServiceProvider _services = null!;
    private IUploadStateStore _state = null!;
    private UploadRecord _record = null!;
    private string _root = null!;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("ru-bench-state-").FullName;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLogging();
        services.AddResumableUploads().AddFileSystemStores(_root);
        _services = services.BuildServiceProvider();
        _state = _services.GetRequiredService<IUploadStateStore>();
        var now = DateTimeOffset.UtcNow;
        _record = new UploadRecord
        {
            Key = ResumableUpload.Middleware.Engine.UploadKeys.Create("anonymous", "bench"),
            Partition = "anonymous",
            FileId = "bench",
            Offset = 1 << 20,
            Length = 1L << 30,
            CreatedAt = now,
            UpdatedAt = now,
            ExpiresAt = now.AddDays(1),
        };
        _state.SaveAsync(_record, CancellationToken.None).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark]
    public ValueTask Save() => _state.SaveAsync(_record, CancellationToken.None);

    [Benchmark]
    public ValueTask<UploadRecord?> Get() => _state.GetAsync(_record.Key, CancellationToken.None);
}
