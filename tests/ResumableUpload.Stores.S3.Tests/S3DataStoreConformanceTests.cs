using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.S3.Tests;

// The data store conformance suite against a real Swift (s3api). Each test gets its own bucket; the store instances
// made within a test share it, as app instances would.
[Collection(SwiftServerGroup.Name)]
public sealed class S3DataStoreConformanceTests : UploadDataStoreConformanceTests
{
    private readonly SwiftFixture _swift;
    private readonly List<S3StoreClient> _clients = [];
    private string? _bucket;

    public S3DataStoreConformanceTests(SwiftFixture swift) => _swift = swift;

    // A completed multipart upload cannot be reopened: the finished object is kept and the writer is sealed at its end.
    protected override bool KeepsSealedBytes => true;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _bucket = await _swift.NewBucketAsync();
    }

    protected override ValueTask<IUploadDataStore> CreateStoreAsync()
    {
        var client = SwiftFixture.Client(_swift.Options(_bucket!));
        _clients.Add(client);
        return ValueTask.FromResult<IUploadDataStore>(new S3UploadDataStore(client));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}
