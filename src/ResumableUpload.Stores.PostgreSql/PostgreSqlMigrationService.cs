using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Creates or upgrades the stores' schema when the host starts, if <see cref="PostgreSqlStoreOptions.CreateSchemaOnStartup"/>
/// is on. Runs in <see cref="StartingAsync"/>, before any hosted service's <c>StartAsync</c>, so the expiry sweep never
/// meets a missing table. A failure stops the host (the stores could not work).
/// </summary>
internal sealed class PostgreSqlMigrationService(PostgreSqlStoreContext context, ILogger<PostgreSqlMigrationService> logger) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (context.Options.CreateSchemaOnStartup)
        {
            await PostgreSqlMigrations.MigrateAsync(context, logger, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
