using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Engine;
using ResumableUpload.Middleware.Storage;
using ResumableUpload.Middleware.Storage.FileSystem;
using ResumableUpload.Middleware.Tests.Infrastructure;

namespace ResumableUpload.Middleware.Tests.Storage;

public sealed class FileSystemStoreTests : IDisposable
{
    private readonly string _root = UploadTestHost.CreateTempDirectory();
    private readonly FileSystemPaths _paths;
    private readonly FileSystemUploadDataStore _data;
    private readonly FileSystemUploadStateStore _state;

    public FileSystemStoreTests()
    {
        _paths = new FileSystemPaths(Options.Create(new FileSystemStoreOptions { RootPath = _root }), NullLogger<FileSystemPaths>.Instance);
        _data = new FileSystemUploadDataStore(_paths);
        _state = new FileSystemUploadStateStore(_paths, new StaticOptionsMonitor<ResumableUploadOptions>(new ResumableUploadOptions()), NullLogger<FileSystemUploadStateStore>.Instance);
    }

    public void Dispose() => UploadTestHost.TryDeleteDirectory(_root);

    [Fact]
    public async Task DataStore_OpenWriterBelowTheFileLength_DiscardsTheBytesPastTheOffset()
    {
        var key = UploadKeys.Create("p", "torn");
        await using (var writer = await _data.OpenWriterAsync(key, 0, null, 1, default))
        {
            await writer.WriteAsync(Protocol.RandomBytes(1_000), default);
        }

        await using (var writer = await _data.OpenWriterAsync(key, 600, null, 1, default))
        {
            writer.Position.Should().Be(600);
            await writer.WriteAsync(new byte[] { 1, 2, 3 }, default);
            await writer.FlushAsync(toDisk: true, default);
        }

        await using var read = (await _data.OpenReadAsync(key, default))!;
        read.Length.Should().Be(603);
    }

    [Fact]
    public async Task DataStore_OpenWriterPastTheFileLength_PositionsTheWriterAtTheBytesItHolds()
    {
        var key = UploadKeys.Create("p", "short");
        await using (var writer = await _data.OpenWriterAsync(key, 0, null, 1, default))
        {
            await writer.WriteAsync(new byte[4], default);
        }

        await using var reopened = await _data.OpenWriterAsync(key, 10, null, 1, default);

        reopened.Position.Should().Be(4, "the engine then lowers the published offset to what the store really holds");
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde/")]
    public async Task DataStore_KeyThatIsNotAnEngineKey_IsRefusedBeforeAnyPathIsBuilt(string key)
    {
        var act = async () => await _data.OpenWriterAsync(key, 0, null, 1, default);

        await act.Should().ThrowAsync<ArgumentException>();
        Directory.EnumerateFileSystemEntries(_root, "*", SearchOption.AllDirectories).Should().BeEmpty();
    }

    [Fact]
    public async Task DataStore_ReadAndDeleteOfUnknownKey_AreQuiet()
    {
        var key = UploadKeys.Create("p", "none");

        (await _data.OpenReadAsync(key, default)).Should().BeNull();
        await _data.Invoking(d => d.DeleteAsync(key, default).AsTask()).Should().NotThrowAsync();
    }

    [Fact]
    public async Task StateStore_SaveThenGet_RoundTripsTheRecord()
    {
        var now = new DateTimeOffset(2026, 11, 26, 1, 2, 3, TimeSpan.Zero);
        var record = new UploadRecord
        {
            Key = UploadKeys.Create("p", "id"),
            Partition = "p",
            FileId = "id ü/..",
            Offset = 42,
            Length = 100,
            CreatedAt = now,
            UpdatedAt = now,
            ExpiresAt = now.AddHours(1),
            Metadata = new Dictionary<string, string> { ["name"] = "a.txt" },
        };

        await _state.SaveAsync(record, default);
        await _state.SaveAsync(record with { Offset = 50 }, default);
        var loaded = await _state.GetAsync(record.Key, default);

        loaded.Should().BeEquivalentTo(record with { Offset = 50 });
        Directory.GetFiles(_paths.StateRoot, "*", SearchOption.AllDirectories).Should().ContainSingle("the rename leaves no temporary file");
    }

    [Fact]
    public async Task StateStore_CorruptFile_IsTreatedAsAbsent()
    {
        var key = UploadKeys.Create("p", "corrupt");
        var path = _paths.StatePath(key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "{ not json");

        (await _state.GetAsync(key, default)).Should().BeNull();
    }

    [Fact]
    public async Task StateStore_GetExpired_ReturnsOnlyExpiredRecords()
    {
        var now = DateTimeOffset.UtcNow;
        UploadRecord Make(string id, TimeSpan expiresIn) => new()
        {
            Key = UploadKeys.Create("p", id),
            Partition = "p",
            FileId = id,
            ExpiresAt = now + expiresIn,
        };
        await _state.SaveAsync(Make("old", TimeSpan.FromMinutes(-1)), default);
        await _state.SaveAsync(Make("new", TimeSpan.FromMinutes(1)), default);

        var expired = new List<UploadRecord>();
        await foreach (var record in _state.GetExpiredAsync(now, default))
        {
            expired.Add(record);
        }

        expired.Select(r => r.FileId).Should().Equal("old");
        (await _state.DeleteAsync(expired[0].Key, 0, default)).Should().BeTrue();
        (await _state.DeleteAsync(expired[0].Key, 0, default)).Should().BeFalse();
    }
}

internal sealed class StaticOptionsMonitor<T>(T value) : IOptionsMonitor<T>
{
    public T CurrentValue => value;

    public T Get(string? name) => value;

    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
