using Microsoft.Extensions.Options;

namespace ResumableUpload.Stores.S3;

/// <summary>Checks <see cref="S3UploadStoreOptions"/> at start-up; the messages name the configuration keys.</summary>
internal sealed class S3UploadStoreOptionsValidator : IValidateOptions<S3UploadStoreOptions>
{
    private const string Section = S3UploadStoreOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, S3UploadStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BucketName))
        {
            failures.Add($"{Section}:BucketName is required: the bucket that holds the uploads' bytes.");
        }

        if (options.KeyPrefix is null)
        {
            failures.Add($"{Section}:KeyPrefix must not be null (use an empty string for no prefix).");
        }
        else if (options.KeyPrefix.StartsWith('/'))
        {
            failures.Add($"{Section}:KeyPrefix '{options.KeyPrefix}' must not start with '/'.");
        }

        if (options.ServiceUrl is not null
            && (!Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{Section}:ServiceUrl '{options.ServiceUrl}' must be an absolute http or https URL.");
        }

        if ((options.AccessKey is null) != (options.SecretKey is null))
        {
            failures.Add($"{Section}:AccessKey and {Section}:SecretKey must be set together (or neither, for the SDK's default credentials).");
        }

        if (options.MinimumPartSize is < S3UploadStoreOptions.MinimumAllowedPartSize or > S3UploadStoreOptions.MaximumAllowedPartSize)
        {
            failures.Add($"{Section}:MinimumPartSize {options.MinimumPartSize} must be between {S3UploadStoreOptions.MinimumAllowedPartSize} (5 MiB, the S3 minimum) and {S3UploadStoreOptions.MaximumAllowedPartSize} (1 GiB).");
        }

        if (options.MaximumPartCount is < 2 or > 10_000)
        {
            failures.Add($"{Section}:MaximumPartCount {options.MaximumPartCount} must be between 2 and 10000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
