using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ResumableUpload.Stores.Redis;

/// <summary>Healthy when Redis answers <c>PING</c> on the stores' connection; otherwise the registration's failure status.</summary>
internal sealed class RedisHealthCheck(RedisConnection connection) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            var database = await connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
            var latency = await database.PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy(string.Create(CultureInfo.InvariantCulture, $"Redis answered PING in {latency.TotalMilliseconds:0.#} ms."));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"Redis did not answer PING: {ex.Message}", ex);
        }
    }
}
