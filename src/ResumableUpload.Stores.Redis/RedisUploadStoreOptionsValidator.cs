using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis;

/// <summary>Checks <see cref="RedisUploadStoreOptions"/> at start-up; messages name the configuration key and the value.</summary>
internal sealed class RedisUploadStoreOptionsValidator(bool requireConfiguration) : IValidateOptions<RedisUploadStoreOptions>
{
    internal static readonly TimeSpan MinimumLeaseDuration = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan MaximumLockPollInterval = TimeSpan.FromSeconds(10);

    public ValidateOptionsResult Validate(string? name, RedisUploadStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string Section = RedisUploadStoreOptions.SectionName;

        if (string.IsNullOrWhiteSpace(options.Configuration))
        {
            if (requireConfiguration)
            {
                failures.Add($"{Section}:{nameof(RedisUploadStoreOptions.Configuration)} is required: set it to a StackExchange.Redis connection string such as 'localhost:6379' (configuration key '{Section}:{nameof(RedisUploadStoreOptions.Configuration)}', or the configure callback of AddRedisStores).");
            }
        }
        else
        {
            try
            {
                _ = ConfigurationOptions.Parse(options.Configuration);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{Section}:{nameof(RedisUploadStoreOptions.Configuration)} is not a valid StackExchange.Redis connection string: {ex.Message}");
            }
        }

        if (string.IsNullOrEmpty(options.KeyPrefix))
        {
            failures.Add($"{Section}:{nameof(RedisUploadStoreOptions.KeyPrefix)} must not be empty (default 'resumable-uploads:').");
        }

        if (options.LeaseDuration < MinimumLeaseDuration)
        {
            failures.Add($"{Section}:{nameof(RedisUploadStoreOptions.LeaseDuration)} must be at least {MinimumLeaseDuration} (it is {options.LeaseDuration}).");
        }

        if (options.LockPollInterval < TimeSpan.FromMilliseconds(1) || options.LockPollInterval > MaximumLockPollInterval)
        {
            failures.Add($"{Section}:{nameof(RedisUploadStoreOptions.LockPollInterval)} must be between 00:00:00.001 and {MaximumLockPollInterval} (it is {options.LockPollInterval}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
