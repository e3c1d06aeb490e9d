using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Runs the embedded migration scripts (<c>Migrations/NNN_name.sql</c>) that the database has not seen yet, in one
/// transaction under a transaction-level advisory lock: instances starting at once wait for each other, and the
/// second finds the work done. The scripts are psql files; their <c>:"variable"</c> names are replaced with the
/// configured (validated, quoted) identifiers.
/// </summary>
internal static partial class PostgreSqlMigrations
{
    /// <summary>The advisory lock key of migrations ("RUPGMIGR" in ASCII); one per database.</summary>
    private const long AdvisoryLockKey = 0x5255_5047_4D49_4752;

    private const string ResourcePrefix = "ResumableUpload.Stores.PostgreSql.Migrations.";

    /// <summary>The migrations shipped in this assembly, in order: (version, name, script text).</summary>
    public static IReadOnlyList<(int Version, string Name, string Script)> Scripts { get; } = Load();

    /// <summary><paramref name="script"/> with names substituted, as it is sent to the server.</summary>
    public static string Render(string script, IReadOnlyDictionary<string, string> names)
    {
        var withoutComments = LineComment().Replace(script, string.Empty);
        return Variable().Replace(withoutComments, match =>
            names.TryGetValue(match.Groups[1].Value, out var value)
                ? PostgreSqlStoreContext.Quote(value)
                : throw new InvalidOperationException($"The migration uses an unknown variable '{match.Groups[1].Value}'."));
    }

    /// <summary>Applies the missing migrations; returns the names of those it applied.</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(PostgreSqlStoreContext context, ILogger logger, CancellationToken cancellationToken)
    {
        var applied = new List<string>();
        var connection = await context.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction);
                await using (lockCommand.ConfigureAwait(false))
                {
                    lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AdvisoryLockKey });
                    await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                var done = await AppliedVersionsAsync(context, connection, transaction, cancellationToken).ConfigureAwait(false);
                foreach (var (version, name, script) in Scripts)
                {
                    if (done.Contains(version))
                    {
                        continue;
                    }

                    var command = new NpgsqlCommand(Render(script, context.Names), connection, transaction);

                    await using var commandScope = command.ConfigureAwait(false);
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    applied.Add(name);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        foreach (var name in applied)
        {
            Log.MigrationApplied(logger, name, context.Options.Schema);
        }

        return applied;
    }

    private static async Task<HashSet<int>> AppliedVersionsAsync(PostgreSqlStoreContext context, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var versions = new HashSet<int>();
        var exists = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection, transaction);
        await using (exists.ConfigureAwait(false))
        {
            exists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = context.Migrations });
            if (!(bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                return versions;
            }
        }

        var select = new NpgsqlCommand($"SELECT version FROM {context.Migrations}", connection, transaction);

        await using var selectScope = select.ConfigureAwait(false);
        var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            versions.Add(reader.GetInt32(0));
        }

        return versions;
    }

    private static List<(int, string, string)> Load()
    {
        var assembly = typeof(PostgreSqlMigrations).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(resource[ResourcePrefix.Length..]);
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), NumberStyles.None, CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((version, name, reader.ReadToEnd()));
        }

        return scripts;
    }

    // The scripts hold no "--" inside string literals, so a line comment runs from "--" to the end of the line.
    [GeneratedRegex("--[^\\n]*", RegexOptions.CultureInvariant)]
    private static partial Regex LineComment();

    [GeneratedRegex(":\"([a-z_]+)\"", RegexOptions.CultureInvariant)]
    private static partial Regex Variable();
}
