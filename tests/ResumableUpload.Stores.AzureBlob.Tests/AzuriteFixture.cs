using Azure.Storage.Blobs;
using ResumableUpload.Stores.AzureBlob;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.AzureBlob.Tests;

/// <summary>One Azurite for the whole test assembly (an xunit collection fixture).</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteGroup : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}

/// <summary>Starts the real Azurite once; a missing Azurite or Node.js fails every test of the collection with the install hint.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    /// <summary>The container the tests share (each test uses a blob prefix of its own).</summary>
    public const string Container = "uploads-tests";

    private AzuriteServer? _server;

    internal AzuriteServer Server => _server ?? throw new InvalidOperationException("Azurite did not start.");

    public string ConnectionString => Server.ConnectionString;

    public async Task InitializeAsync() => _server = await AzuriteServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Options for this server with the service version Azurite accepts.</summary>
    public AzureBlobUploadStoreOptions Options(string? prefix = null, int? blockSize = null, string container = Container, bool createContainer = true, int maxRetries = 1)
        => OptionsFor(ConnectionString, prefix, blockSize, container, createContainer, maxRetries);

    public static AzureBlobUploadStoreOptions OptionsFor(string connectionString, string? prefix = null, int? blockSize = null, string container = Container, bool createContainer = true, int maxRetries = 1)
    {
        var options = new AzureBlobUploadStoreOptions
        {
            ConnectionString = connectionString,
            ContainerName = container,
            BlobPrefix = prefix ?? $"tests/{Guid.NewGuid():N}/",
            CreateContainerIfMissing = createContainer,
            ServiceVersion = AzuriteServer.ServiceVersion,
            MaxRetries = maxRetries,
        };
        if (blockSize is { } size)
        {
            options.BlockSize = size;
        }

        return options;
    }

    /// <summary>A store on this server, built the way the DI registration builds it.</summary>
    internal static AzureBlobUploadDataStore CreateStore(AzureBlobUploadStoreOptions options)
        => new(AzureBlobContainerSource.FromOptions(options), options);

    /// <summary>A container client on this server (for inspecting what the store left behind).</summary>
    public BlobContainerClient ContainerClient(string container = Container)
        => AzureBlobContainerSource.FromOptions(Options(container: container));
}
