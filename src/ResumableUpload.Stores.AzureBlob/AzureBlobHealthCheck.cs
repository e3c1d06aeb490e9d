using Azure;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>Healthy when the store's container answers (a real request to the service); unhealthy when it is missing or the service cannot be reached.</summary>
internal sealed class AzureBlobHealthCheck(AzureBlobUploadDataStore store) : IHealthCheck
{
    internal const string Name = "resumable-uploads-AzureBlob";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        var container = store.Container.Name;
        try
        {
            await store.ProbeAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"The upload container '{container}' answers.");
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The upload container '{container}' does not exist (create it, or set CreateContainerIfMissing).", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The Blob service holding the upload container '{container}' cannot be reached: {ex.Message}", ex);
        }
    }
}
