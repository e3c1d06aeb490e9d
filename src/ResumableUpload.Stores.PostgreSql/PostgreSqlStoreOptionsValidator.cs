using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Checks <see cref="PostgreSqlStoreOptions"/> at start-up. Schema and table names go into SQL text, so they are held
/// to a strict pattern (lowercase letters, digits, underscores) rather than escaped.
/// </summary>
internal sealed partial class PostgreSqlStoreOptionsValidator : IValidateOptions<PostgreSqlStoreOptions>
{
    internal const int MaxTableNameLength = 40; // leaves room for the derived names within PostgreSQL's 63

    public ValidateOptionsResult Validate(string? name, PostgreSqlStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string Section = PostgreSqlStoreOptions.SectionName;

        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{Section}:ConnectionString is required: set it in configuration or in AddPostgreSql...(o => o.ConnectionString = \"Host=...;Database=...;Username=...\").");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                // The message of the parser names the bad keyword; the connection string itself (with a password) is never echoed.
                failures.Add($"{Section}:ConnectionString is not a valid Npgsql connection string: {ex.Message}");
            }
        }

        CheckIdentifier(failures, "Schema", options.Schema, 63);
        CheckIdentifier(failures, "RecordsTable", options.RecordsTable, MaxTableNameLength);
        CheckIdentifier(failures, "LeasesTable", options.LeasesTable, MaxTableNameLength);
        if (string.Equals(options.RecordsTable, options.LeasesTable, StringComparison.Ordinal))
        {
            failures.Add($"{Section}:RecordsTable and {Section}:LeasesTable are both '{options.RecordsTable}'; they must differ.");
        }

        if (options.LeaseDuration < TimeSpan.FromMilliseconds(500) || options.LeaseDuration > TimeSpan.FromHours(1))
        {
            failures.Add($"{Section}:LeaseDuration is {options.LeaseDuration}; it must be between 00:00:00.5 and 01:00:00.");
        }

        if (options.LockPollInterval <= TimeSpan.Zero || options.LockPollInterval > options.LeaseDuration)
        {
            failures.Add($"{Section}:LockPollInterval is {options.LockPollInterval}; it must be positive and at most LeaseDuration ({options.LeaseDuration}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckIdentifier(List<string> failures, string key, string? value, int maxLength)
    {
        if (value is null || value.Length > maxLength || !Identifier().IsMatch(value))
        {
            failures.Add($"{PostgreSqlStoreOptions.SectionName}:{key} is '{value}'; it must be 1 to {maxLength} characters: lowercase letters a-z, digits and underscores, not starting with a digit.");
        }
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Identifier();
}
