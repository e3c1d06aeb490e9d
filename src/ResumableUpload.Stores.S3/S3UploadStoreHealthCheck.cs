using Amazon.S3.Model;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ResumableUpload.Stores.S3;

/// <summary>Healthy when the bucket answers a one-key listing under the key prefix.</summary>
internal sealed class S3UploadStoreHealthCheck : IHealthCheck
{
    private readonly S3StoreClient _s3;

    public S3UploadStoreHealthCheck(S3StoreClient s3) => _s3 = s3;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            await _s3.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
            await _s3.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _s3.BucketName, Prefix = _s3.Options.KeyPrefix, MaxKeys = 1 }, cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"Bucket '{_s3.BucketName}' answers.");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Bucket '{_s3.BucketName}' does not answer: {e.Message}", e);
        }
    }
}
