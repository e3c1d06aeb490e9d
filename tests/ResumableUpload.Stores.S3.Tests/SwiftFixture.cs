using Amazon.S3;
using Microsoft.Extensions.Options;
using ResumableUpload.Stores.S3;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.S3.Tests;

/// <summary>One Swift (with s3api) for the whole test assembly, started on first use and stopped at the end.</summary>
public sealed class SwiftFixture : IAsyncLifetime
{
    private SwiftS3Server? _server;

    static SwiftFixture()
    {
        // The SDK must never probe for instance metadata (it would wait for a timeout off EC2).
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    internal SwiftS3Server Server => _server ?? throw new InvalidOperationException("The Swift server did not start.");

    public async Task InitializeAsync() => _server = await SwiftS3Server.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Options for this server and <paramref name="bucketName"/>.</summary>
    internal S3UploadStoreOptions Options(string bucketName, string keyPrefix = "uploads/") => new()
    {
        BucketName = bucketName,
        KeyPrefix = keyPrefix,
        ServiceUrl = Server.ServiceUrl,
        Region = Server.Region,
        ForcePathStyle = true,
        AccessKey = Server.AccessKey,
        SecretKey = Server.SecretKey,
    };

    /// <summary>A fresh bucket on the server.</summary>
    internal async Task<string> NewBucketAsync()
    {
        var name = SwiftS3Server.NewBucketName();
        await Server.CreateBucketAsync(name);
        return name;
    }

    /// <summary>A store client (as one app instance would have) for <paramref name="options"/>.</summary>
    internal static S3StoreClient Client(S3UploadStoreOptions options) => new(Microsoft.Extensions.Options.Options.Create(options));

    /// <summary>A raw S3 client for inspecting what the store wrote.</summary>
    internal IAmazonS3 RawClient(string bucketName) => S3StoreClient.CreateClient(Options(bucketName));
}

[CollectionDefinition(Name)]
public sealed class SwiftServerGroup : ICollectionFixture<SwiftFixture>
{
    public const string Name = "Swift S3";
}
