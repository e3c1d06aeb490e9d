using System.Globalization;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage.FileSystem;

namespace ResumableUpload.Middleware.Hosting;

/// <summary>Validates <see cref="ResumableUploadOptions"/> at start-up; each message names the option and the offending value.</summary>
internal sealed class ResumableUploadOptionsValidator : IValidateOptions<ResumableUploadOptions>
{
    public ValidateOptionsResult Validate(string? name, ResumableUploadOptions options)
    {
        var failures = new List<string>();
        void Check(bool ok, string message)
        {
            if (!ok)
            {
                failures.Add(message);
            }
        }

        var c = CultureInfo.InvariantCulture;
        Check(options.MaxUploadSize > 0, string.Create(c, $"ResumableUploads:MaxUploadSize must be positive (was {options.MaxUploadSize})."));
        Check(options.MaxFileIdLength is >= 1 and <= 8192, string.Create(c, $"ResumableUploads:MaxFileIdLength must be between 1 and 8192 (was {options.MaxFileIdLength})."));
        Check(options.LockWaitTimeout >= TimeSpan.Zero && options.LockWaitTimeout <= TimeSpan.FromMinutes(5), string.Create(c, $"ResumableUploads:LockWaitTimeout must be between 00:00:00 and 00:05:00 (was {options.LockWaitTimeout})."));
        Check(options.StalledWriterTimeout >= TimeSpan.FromSeconds(1) && options.StalledWriterTimeout <= TimeSpan.FromHours(1), string.Create(c, $"ResumableUploads:StalledWriterTimeout must be between 00:00:01 and 01:00:00 (was {options.StalledWriterTimeout})."));
        Check(options.RefusedBodyDrainLimit is >= 0 and <= 1L << 30, string.Create(c, $"ResumableUploads:RefusedBodyDrainLimit must be between 0 and 1073741824 (was {options.RefusedBodyDrainLimit})."));
        Check(options.RefusedBodyDrainTimeout >= TimeSpan.Zero && options.RefusedBodyDrainTimeout <= TimeSpan.FromMinutes(5), string.Create(c, $"ResumableUploads:RefusedBodyDrainTimeout must be between 00:00:00 and 00:05:00 (was {options.RefusedBodyDrainTimeout})."));
        Check(options.IncompleteUploadExpiration > TimeSpan.Zero, string.Create(c, $"ResumableUploads:IncompleteUploadExpiration must be positive (was {options.IncompleteUploadExpiration})."));
        Check(options.CompletedUploadRetention > TimeSpan.Zero, string.Create(c, $"ResumableUploads:CompletedUploadRetention must be positive (was {options.CompletedUploadRetention})."));
        Check(options.ExpirationScanInterval >= TimeSpan.FromSeconds(1) && options.ExpirationScanInterval <= TimeSpan.FromDays(30), string.Create(c, $"ResumableUploads:ExpirationScanInterval must be between 00:00:01 and 30.00:00:00 (was {options.ExpirationScanInterval})."));
        Check(Enum.IsDefined(options.Durability), string.Create(c, $"ResumableUploads:Durability must be Flush or FSync (was {options.Durability})."));
        Check(options.ProgressPublishInterval >= 4096, string.Create(c, $"ResumableUploads:ProgressPublishInterval must be at least 4096 bytes (was {options.ProgressPublishInterval})."));
        Check(options.MinimumBodyDataRate >= 0 && double.IsFinite(options.MinimumBodyDataRate), string.Create(c, $"ResumableUploads:MinimumBodyDataRate must be 0 (off) or positive (was {options.MinimumBodyDataRate})."));
        // Kestrel checks data rates once a second, and refuses a grace period that is not longer than that.
        Check(options.MinimumBodyDataRateGracePeriod > TimeSpan.FromSeconds(1), string.Create(c, $"ResumableUploads:MinimumBodyDataRateGracePeriod must be longer than 00:00:01 (was {options.MinimumBodyDataRateGracePeriod})."));
        Check(!string.IsNullOrWhiteSpace(options.AnonymousPartition), "ResumableUploads:AnonymousPartition must not be empty.");

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Validates <see cref="FileSystemStoreOptions"/> at start-up.</summary>
internal sealed class FileSystemStoreOptionsValidator : IValidateOptions<FileSystemStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, FileSystemStoreOptions options)
        => string.IsNullOrWhiteSpace(options.RootPath)
            ? ValidateOptionsResult.Fail("ResumableUploads:FileSystem:RootPath must name a directory (was empty).")
            : ValidateOptionsResult.Success;
}
