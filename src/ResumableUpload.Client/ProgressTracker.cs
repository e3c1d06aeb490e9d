using System.Diagnostics;

namespace ResumableUpload.Client;

/// <summary>Turns byte counts into <see cref="UploadProgress"/> reports: at most ten a second, with a smoothed speed.</summary>
internal sealed class ProgressTracker(IProgress<UploadProgress>? progress, long total)
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastTime;
    private long _lastBytes = -1;
    private double _speed;

    public void Report(long bytes, bool force = false)
    {
        if (progress is null)
        {
            return;
        }

        var now = _clock.Elapsed;
        if (!force && now - _lastTime < Interval)
        {
            return;
        }

        if (_lastBytes >= 0 && bytes >= _lastBytes && now > _lastTime)
        {
            var instant = (bytes - _lastBytes) / (now - _lastTime).TotalSeconds;
            _speed = _speed == 0 ? instant : (0.3 * instant) + (0.7 * _speed);
        }

        _lastTime = now;
        _lastBytes = bytes;
        TimeSpan? eta = _speed > 0 ? TimeSpan.FromSeconds((total - bytes) / _speed) : null;
        progress.Report(new UploadProgress(bytes, total, _speed, eta));
    }
}
