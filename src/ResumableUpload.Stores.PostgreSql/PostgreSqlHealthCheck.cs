using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Healthy when the database answers and the stores' tables exist; Unhealthy when it cannot be reached or the tables
/// are missing (run the migration, or set CreateSchemaOnStartup).
/// </summary>
internal sealed class PostgreSqlHealthCheck(PostgreSqlStoreContext store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var command = store.DataSource.CreateCommand("SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL");
            await using var commandScope = command.ConfigureAwait(false);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = store.Records });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = store.Leases });
            var tablesExist = (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            return tablesExist
                ? HealthCheckResult.Healthy($"PostgreSQL answers; {store.Records} and {store.Leases} exist.")
                : new HealthCheckResult(context.Registration.FailureStatus, $"PostgreSQL answers but {store.Records} or {store.Leases} is missing: run the migration (Migrations/001_initial.sql) or set CreateSchemaOnStartup.");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or InvalidOperationException)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "PostgreSQL cannot be reached.", ex);
        }
    }
}
