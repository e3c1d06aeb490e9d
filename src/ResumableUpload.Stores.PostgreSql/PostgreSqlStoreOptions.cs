namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Options of the PostgreSQL stores, bound from the <c>ResumableUploads:PostgreSql</c> configuration section and
/// validated at start-up.
/// </summary>
public sealed class PostgreSqlStoreOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "ResumableUploads:PostgreSql";

    /// <summary>The Npgsql connection string (for example <c>Host=db;Database=app;Username=app;Password=...</c>). Required.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The schema that holds the tables. Lowercase letters, digits and underscores. Default: <c>public</c>.</summary>
    public string Schema { get; set; } = "public";

    /// <summary>
    /// The table of upload records (state store). Lowercase letters, digits and underscores, at most 40 characters.
    /// Default: <c>resumable_upload_records</c>.
    /// </summary>
    public string RecordsTable { get; set; } = "resumable_upload_records";

    /// <summary>
    /// The table of upload leases (lock provider). Lowercase letters, digits and underscores, at most 40 characters.
    /// Default: <c>resumable_upload_leases</c>.
    /// </summary>
    public string LeasesTable { get; set; } = "resumable_upload_leases";

    /// <summary>
    /// Whether the stores create (or upgrade) their schema when the host starts. Idempotent and safe when several
    /// instances start at once. Default: <see langword="false"/> (run <c>Migrations/001_initial.sql</c> with psql).
    /// </summary>
    public bool CreateSchemaOnStartup { get; set; }

    /// <summary>
    /// How long an upload lock lasts without renewal; the holder renews it every third of this. A holder that dies
    /// keeps the upload locked for at most this long. Between 500 ms and 1 hour. Default: 30 seconds.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest pause between two attempts to take a lock someone else holds (attempts start faster and back off
    /// to this). A release by an instance of the same database usually wakes waiters at once. Default: 100 ms.
    /// </summary>
    public TimeSpan LockPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);
}
