using System.Globalization;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace ResumableUpload.Stores.AzureBlob;

/// <summary>Checks <see cref="AzureBlobUploadStoreOptions"/> at start-up; every message names the configuration key at fault.</summary>
internal sealed partial class AzureBlobUploadStoreOptionsValidator(AzureBlobContainerSource source) : IValidateOptions<AzureBlobUploadStoreOptions>
{
    internal const int MinBlockSize = 64 * 1024;
    internal const int MaxBlockSize = 256 * 1024 * 1024;
    private const string Section = AzureBlobUploadStoreOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, AzureBlobUploadStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (source.Factory is null)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                failures.Add($"{Section}:ConnectionString is required: set it to the storage account's connection string (or register the store with a BlobContainerClient).");
            }
            else if (!IsConnectionString(options.ConnectionString))
            {
                // The value is a secret: the message names the key, never the value.
                failures.Add($"{Section}:ConnectionString is not an Azure Storage connection string (expected key=value pairs such as AccountName=...;AccountKey=...;BlobEndpoint=...).");
            }

            if (string.IsNullOrWhiteSpace(options.ContainerName))
            {
                failures.Add($"{Section}:ContainerName is required: the container that holds the uploads' blobs.");
            }
            else if (!ContainerNamePattern().IsMatch(options.ContainerName))
            {
                failures.Add($"{Section}:ContainerName '{options.ContainerName}' is not a valid container name: use 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
            }

            if (options.ServiceVersion is not null && !TryParseServiceVersion(options.ServiceVersion, out _))
            {
                failures.Add($"{Section}:ServiceVersion '{options.ServiceVersion}' is not a Blob service version this SDK knows; use the form 2026-06-06 (known: {string.Join(", ", Enum.GetNames<BlobClientOptions.ServiceVersion>())}).");
            }
        }

        if (options.BlobPrefix is null || options.BlobPrefix.Length > 512 || options.BlobPrefix.StartsWith('/') || options.BlobPrefix.Contains('\\', StringComparison.Ordinal))
        {
            failures.Add($"{Section}:BlobPrefix '{options.BlobPrefix}' is not valid: use at most 512 characters, no backslash, not starting with '/' (empty is allowed).");
        }

        if (options.BlockSize is < MinBlockSize or > MaxBlockSize)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:BlockSize {options.BlockSize} is out of range: use {MinBlockSize} (64 KiB) to {MaxBlockSize} (256 MiB) bytes."));
        }

        if (options.MaxRetries is < 0 or > 10)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxRetries {options.MaxRetries} is out of range: use 0 to 10."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsConnectionString(string connectionString)
    {
        try
        {
            // Parses only: a client makes no request until it is used.
            _ = new BlobServiceClient(connectionString);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Reads <c>2026-06-06</c> or <c>V2026_06_06</c>.</summary>
    internal static bool TryParseServiceVersion(string text, out BlobClientOptions.ServiceVersion version)
    {
        var trimmed = text.Trim();
        var name = trimmed.StartsWith('V') || trimmed.StartsWith('v') ? "V" + trimmed[1..] : "V" + trimmed.Replace('-', '_');
        return Enum.TryParse(name, ignoreCase: false, out version) && Enum.IsDefined(version);
    }

    [GeneratedRegex("^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex ContainerNamePattern();
}
