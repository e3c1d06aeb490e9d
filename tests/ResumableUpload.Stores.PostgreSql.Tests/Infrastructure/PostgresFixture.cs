using Microsoft.Extensions.Logging.Abstractions;
using ResumableUpload.Testing.Shared.Backends;

namespace ResumableUpload.Stores.PostgreSql.Tests.Infrastructure;

/// <summary>One throwaway PostgreSQL cluster for the whole test assembly, with one database the tests make schemas in.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? _server;
    private string? _connectionString;

    internal PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL fixture did not start.");

    /// <summary>The connection string of the tests' database.</summary>
    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("The PostgreSQL fixture did not start.");

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        _connectionString = await _server.CreateDatabaseAsync("resumable_upload_tests");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Options for a schema of its own (named after a fresh guid), so tests never see each other's rows.</summary>
    public PostgreSqlStoreOptions NewOptions(TimeSpan? leaseDuration = null, string? schema = null) => new()
    {
        ConnectionString = ConnectionString,
        Schema = schema ?? NewSchemaName(),
        LeaseDuration = leaseDuration ?? TimeSpan.FromSeconds(1.5),
        LockPollInterval = TimeSpan.FromMilliseconds(50),
    };

    public static string NewSchemaName() => "t_" + Guid.NewGuid().ToString("N");

    /// <summary>Creates the schema of <paramref name="options"/> (the migration) and returns a context on it.</summary>
    internal static async Task<PostgreSqlStoreContext> MigratedContextAsync(PostgreSqlStoreOptions options)
    {
        var context = new PostgreSqlStoreContext(options);
        await PostgreSqlMigrations.MigrateAsync(context, NullLogger.Instance, CancellationToken.None);
        return context;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollectionDefinition : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
