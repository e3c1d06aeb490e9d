using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Diagnostics;
using ResumableUpload.Middleware.Engine;

namespace ResumableUpload.Middleware.Hosting;

/// <summary>
/// Removes expired uploads (record and bytes) every <see cref="ResumableUploadOptions.ExpirationScanInterval"/>,
/// on the injected <see cref="TimeProvider"/>. Expired uploads are already invisible to clients before this runs.
/// </summary>
internal sealed class UploadExpirationService : BackgroundService
{
    private readonly UploadEngine _engine;
    private readonly TimeProvider _time;
    private readonly IOptionsMonitor<ResumableUploadOptions> _options;
    private readonly ILogger _logger;

    public UploadExpirationService(UploadEngine engine, TimeProvider time, IOptionsMonitor<ResumableUploadOptions> options, ILogger<UploadExpirationService> logger)
    {
        _engine = engine;
        _time = time;
        _options = options;
        _logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.CurrentValue.ExpirationScanInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One scan; failures are logged and retried at the next tick.</summary>
    internal async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _engine.RemoveExpiredAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.ExpirationFailed(_logger, ex);
            return 0;
        }
    }
}
