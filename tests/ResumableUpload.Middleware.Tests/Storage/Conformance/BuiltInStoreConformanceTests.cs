using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Storage.InMemory;
using ResumableUpload.Middleware.Tests.Infrastructure;
using ResumableUpload.Testing;

namespace ResumableUpload.Middleware.Tests.Storage.Conformance;

// The conformance suite (ResumableUpload.Testing) against the stores this package ships. Each test gets a fresh
// class instance, so a fresh directory or a fresh in-memory backend; instances made within a test share it.

public sealed class FileSystemStateStoreConformanceTests : UploadStateStoreConformanceTests
{
    private readonly string _root = UploadTestHost.CreateTempDirectory();

    protected override bool EnforcesFencing => true;

    // Fencing on files is best effort (read, then write) and a deleted state file leaves nothing behind.
    protected override bool KeepsTombstones => false;

    protected override ValueTask<IUploadStateStore> CreateStoreAsync()
        => ValueTask.FromResult<IUploadStateStore>(new FileSystemUploadStateStore(
            BuiltInStores.Paths(_root),
            new StaticOptionsMonitor<ResumableUploadOptions>(new ResumableUploadOptions()),
            NullLogger<FileSystemUploadStateStore>.Instance));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        UploadTestHost.TryDeleteDirectory(_root);
    }
}

public sealed class FileSystemDataStoreConformanceTests : UploadDataStoreConformanceTests
{
    private readonly string _root = UploadTestHost.CreateTempDirectory();

    protected override ValueTask<IUploadDataStore> CreateStoreAsync()
        => ValueTask.FromResult<IUploadDataStore>(new FileSystemUploadDataStore(BuiltInStores.Paths(_root)));

    // A killed process's file handle is closed by the kernel; what it wrote stays in the page cache.
    protected override ValueTask AbandonAsync(IUploadDataWriter writer) => writer.DisposeAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        UploadTestHost.TryDeleteDirectory(_root);
    }
}

public sealed class InMemoryStateStoreConformanceTests : UploadStateStoreConformanceTests
{
    private readonly InMemoryUploadStateStore _shared = new();

    protected override bool EnforcesFencing => true;

    protected override ValueTask<IUploadStateStore> CreateStoreAsync() => ValueTask.FromResult<IUploadStateStore>(_shared);
}

public sealed class InMemoryDataStoreConformanceTests : UploadDataStoreConformanceTests
{
    private readonly InMemoryUploadDataStore _shared = new();

    protected override ValueTask<IUploadDataStore> CreateStoreAsync() => ValueTask.FromResult<IUploadDataStore>(_shared);
}

public sealed class InProcessLockProviderConformanceTests : UploadLockProviderConformanceTests
{
    private readonly InProcessUploadLockProvider _shared = new();

    protected override ValueTask<IUploadLockProvider> CreateProviderAsync() => ValueTask.FromResult<IUploadLockProvider>(_shared);
}

internal static class BuiltInStores
{
    public static FileSystemPaths Paths(string root)
        => new(Options.Create(new FileSystemStoreOptions { RootPath = root }), NullLogger<FileSystemPaths>.Instance);
}
