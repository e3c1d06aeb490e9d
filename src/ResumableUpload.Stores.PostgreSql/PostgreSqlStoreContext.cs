using Microsoft.Extensions.Options;
using Npgsql;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// What the PostgreSQL stores share: one <see cref="NpgsqlDataSource"/> (the connection pool) and the quoted names of
/// the objects they use, derived once from validated options.
/// </summary>
internal sealed class PostgreSqlStoreContext : IAsyncDisposable, IDisposable
{
    public PostgreSqlStoreContext(PostgreSqlStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new PostgreSqlStoreOptionsValidator().Validate(null, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(nameof(PostgreSqlStoreOptions), typeof(PostgreSqlStoreOptions), result.Failures);
        }

        Options = options;
        DataSource = NpgsqlDataSource.Create(options.ConnectionString!);
        Names = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["schema"] = options.Schema,
            ["records_table"] = options.RecordsTable,
            ["records_expiry_index"] = options.RecordsTable + "_expires_at_idx",
            ["records_deleted_index"] = options.RecordsTable + "_deleted_at_idx",
            ["leases_table"] = options.LeasesTable,
            ["fencing_sequence"] = options.LeasesTable + "_token_seq",
            ["migrations_table"] = options.RecordsTable + "_migrations",
        };
        Records = Qualify(options.RecordsTable);
        Leases = Qualify(options.LeasesTable);
        FencingSequence = Qualify(Names["fencing_sequence"]);
        Migrations = Qualify(Names["migrations_table"]);
        NotificationChannel = options.LeasesTable + "_events";
    }

    public PostgreSqlStoreOptions Options { get; }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>The migration scripts' variables (unquoted; validated identifiers).</summary>
    public IReadOnlyDictionary<string, string> Names { get; }

    /// <summary><c>"schema"."records_table"</c>.</summary>
    public string Records { get; }

    /// <summary><c>"schema"."leases_table"</c>.</summary>
    public string Leases { get; }

    /// <summary><c>"schema"."leases_table_token_seq"</c>.</summary>
    public string FencingSequence { get; }

    /// <summary><c>"schema"."records_table_migrations"</c>.</summary>
    public string Migrations { get; }

    /// <summary>The LISTEN/NOTIFY channel of lease events (handover requests, releases); payloads name the schema.</summary>
    public string NotificationChannel { get; }

    public static string Quote(string identifier) => "\"" + identifier + "\"";

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    public void Dispose() => DataSource.Dispose();

    private string Qualify(string name) => Quote(Options.Schema) + "." + Quote(name);
}
