using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace ResumableUpload.Stores.S3;

/// <summary>
/// The S3 client and bucket the store and its health check share: built from <see cref="S3UploadStoreOptions"/> with
/// settings that work against AWS and S3-compatible servers alike, or handed in by the host (then not disposed here).
/// </summary>
internal sealed class S3StoreClient : IDisposable
{
    private readonly bool _ownsClient;
    private readonly SemaphoreSlim _bucketGate = new(1, 1);
    private volatile bool _bucketReady;

    public S3StoreClient(IOptions<S3UploadStoreOptions> options, IAmazonS3? client = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        _ownsClient = client is null;
        Client = client ?? CreateClient(Options);
        _bucketReady = !Options.CreateBucketIfMissing;
    }

    public IAmazonS3 Client { get; }

    public S3UploadStoreOptions Options { get; }

    public string BucketName => Options.BucketName!;

    /// <summary>An <see cref="IAmazonS3"/> for <paramref name="options"/>: path style, service URL, region, checksums only when required.</summary>
    public static AmazonS3Client CreateClient(S3UploadStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,

            // The SDK's default (trailing checksums on every request) is refused by several S3-compatible servers.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.ServiceUrl is not null)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region ?? "us-east-1";
        }
        else if (options.Region is not null)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return options.AccessKey is not null && options.SecretKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
            : new AmazonS3Client(config);
    }

    /// <summary>Creates the bucket once when <see cref="S3UploadStoreOptions.CreateBucketIfMissing"/> is on.</summary>
    public async ValueTask EnsureBucketAsync(CancellationToken cancellationToken)
    {
        if (_bucketReady)
        {
            return;
        }

        await _bucketGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_bucketReady)
            {
                return;
            }

            try
            {
                await Client.PutBucketAsync(new PutBucketRequest { BucketName = BucketName }, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
            {
                // Created by another instance, or earlier.
            }

            _bucketReady = true;
        }
        finally
        {
            _bucketGate.Release();
        }
    }

    public void Dispose()
    {
        _bucketGate.Dispose();
        if (_ownsClient)
        {
            Client.Dispose();
        }
    }
}
