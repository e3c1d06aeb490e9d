using ResumableUpload.Middleware.Storage;
using ResumableUpload.Testing;

namespace ResumableUpload.Stores.AzureBlob.Tests.Conformance;

// The conformance suite (ResumableUpload.Testing) against the real Azurite. Each test gets a fresh class instance, so a
// fresh blob prefix; the store instances made within a test share it, as app instances would.

/// <summary>With the default block size (4 MiB): the suite's parts are the store's blocks.</summary>
[Collection(AzuriteGroup.Name)]
public sealed class AzureBlobDataStoreConformanceTests(AzuriteFixture azurite) : UploadDataStoreConformanceTests
{
    private readonly AzureBlobUploadStoreOptions _options = azurite.Options();

    protected override int PartSize => _options.BlockSize;

    // A committed blob is kept when reopened above 0: the writer is positioned at its end.
    protected override bool KeepsSealedBytes => true;

    protected override ValueTask<IUploadDataStore> CreateStoreAsync() => ValueTask.FromResult<IUploadDataStore>(AzuriteFixture.CreateStore(_options));
}

/// <summary>
/// With blocks of 320 KiB, which fall between the suite's 1 MiB flushes: a flush then ends a block that a full buffer
/// started, and the crash tests reopen next to blocks of several sizes.
/// </summary>
[Collection(AzuriteGroup.Name)]
public sealed class AzureBlobSmallBlockDataStoreConformanceTests(AzuriteFixture azurite) : UploadDataStoreConformanceTests
{
    private readonly AzureBlobUploadStoreOptions _options = azurite.Options(blockSize: 320 * 1024);

    protected override int PartSize => _options.BlockSize;

    // A committed blob is kept when reopened above 0: the writer is positioned at its end.
    protected override bool KeepsSealedBytes => true;

    protected override ValueTask<IUploadDataStore> CreateStoreAsync() => ValueTask.FromResult<IUploadDataStore>(AzuriteFixture.CreateStore(_options));
}
