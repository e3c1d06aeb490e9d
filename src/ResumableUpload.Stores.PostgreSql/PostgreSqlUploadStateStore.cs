using System.Data;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using ResumableUpload.Middleware.Storage;

namespace ResumableUpload.Stores.PostgreSql;

/// <summary>
/// Upload records in one PostgreSQL table, one row per upload. A save is one <c>INSERT ... ON CONFLICT DO UPDATE</c>
/// statement (atomic: readers see the old row or the new one) that refuses a record whose fencing token is lower than
/// the stored one, so a holder that lost its lease cannot publish over the holder after it. A fenced delete leaves the
/// row behind as a tombstone (<c>deleted_at</c> set; migration 002) that keeps the deleting holder's token, so an older
/// holder can neither claim nor re-create the upload; readers skip tombstones, and the expiry sweep prunes them after
/// <see cref="DeletedFenceRetention"/>.
/// </summary>
internal sealed class PostgreSqlUploadStateStore : IUploadStateStore
{
    private const string Columns =
        "key, partition, file_id, \"offset\", length, is_completed, created_at, updated_at, expires_at, is_partial, parts, part_references, representation_digest, metadata, fencing_token";

    private readonly PostgreSqlStoreContext _context;
    private readonly string _get;
    private readonly string _save;
    private readonly string _delete;
    private readonly string _claim;
    private readonly string _tokenOf;
    private readonly string _expired;
    private readonly string _prune;

    /// <summary>How long a deleted record's tombstone is kept (longer than any holder could stay paused), as in the Redis store.</summary>
    internal static readonly TimeSpan DeletedFenceRetention = TimeSpan.FromDays(1);

    public PostgreSqlUploadStateStore(PostgreSqlStoreContext context)
    {
        _context = context;
        var table = context.Records;
        _get = $"SELECT {Columns} FROM {table} WHERE key = $1 AND deleted_at IS NULL";
        _save =
            $"""
            INSERT INTO {table} AS r ({Columns})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (key) DO UPDATE SET
                partition = EXCLUDED.partition, file_id = EXCLUDED.file_id, "offset" = EXCLUDED."offset",
                length = EXCLUDED.length, is_completed = EXCLUDED.is_completed, created_at = EXCLUDED.created_at,
                updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at, is_partial = EXCLUDED.is_partial,
                parts = EXCLUDED.parts, part_references = EXCLUDED.part_references,
                representation_digest = EXCLUDED.representation_digest, metadata = EXCLUDED.metadata,
                fencing_token = EXCLUDED.fencing_token, deleted_at = NULL
            WHERE r.fencing_token <= EXCLUDED.fencing_token
            """;

        // Under a lease the row becomes a tombstone that keeps the deleting holder's token (and nothing the client
        // sent but its ids); without one (token 0, nothing to fence against) it goes. Returns whether a record (not a
        // tombstone) was there; no row when the stored token is newer.
        _delete =
            $"""
            WITH target AS (
                SELECT key, deleted_at IS NULL AS existed FROM {table} WHERE key = $1 AND fencing_token <= $2 FOR UPDATE),
            removed AS (
                DELETE FROM {table} r USING target WHERE $2 = 0 AND r.key = target.key RETURNING target.existed),
            kept AS (
                UPDATE {table} r SET fencing_token = $2, deleted_at = now(), expires_at = 'infinity', "offset" = 0,
                    is_completed = false, metadata = json_build_object(), parts = NULL, part_references = NULL, representation_digest = NULL
                FROM target WHERE $2 > 0 AND r.key = target.key RETURNING target.existed)
            SELECT existed FROM removed UNION ALL SELECT existed FROM kept
            """;

        // A tombstone is claimed too (it takes the newer token, so the holder in between is fenced out), but is no record.
        _claim = $"UPDATE {table} SET fencing_token = $2 WHERE key = $1 AND fencing_token < $2 RETURNING {Columns}, deleted_at IS NOT NULL";
        _tokenOf = $"SELECT fencing_token FROM {table} WHERE key = $1";
        _expired = $"SELECT {Columns} FROM {table} WHERE expires_at <= $1 AND deleted_at IS NULL ORDER BY expires_at";
        _prune = $"DELETE FROM {table} WHERE deleted_at IS NOT NULL AND deleted_at < now() - $1";
    }

    public async ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var command = _context.DataSource.CreateCommand(_get);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key, NpgsqlDbType = NpgsqlDbType.Text });
        var reader = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    public async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var command = _context.DataSource.CreateCommand(_save);
        await using var commandScope = command.ConfigureAwait(false);
        var p = command.Parameters;
        p.Add(new NpgsqlParameter<string> { TypedValue = record.Key, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<string> { TypedValue = record.Partition, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<string> { TypedValue = record.FileId, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<long> { TypedValue = record.Offset, NpgsqlDbType = NpgsqlDbType.Bigint });
        p.Add(new NpgsqlParameter { Value = record.Length is long length ? length : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        p.Add(new NpgsqlParameter<bool> { TypedValue = record.IsCompleted, NpgsqlDbType = NpgsqlDbType.Boolean });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = record.CreatedAt.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = record.UpdatedAt.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = record.ExpiresAt.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        p.Add(new NpgsqlParameter<bool> { TypedValue = record.IsPartial, NpgsqlDbType = NpgsqlDbType.Boolean });
        p.Add(new NpgsqlParameter { Value = ToJson(record.Parts), NpgsqlDbType = NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter { Value = ToJson(record.PartReferences), NpgsqlDbType = NpgsqlDbType.Jsonb });
        p.Add(new NpgsqlParameter { Value = (object?)record.RepresentationDigest ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        p.Add(new NpgsqlParameter<string> { TypedValue = JsonSerializer.Serialize(record.Metadata, PostgreSqlJsonContext.Default.IReadOnlyDictionaryStringString), NpgsqlDbType = NpgsqlDbType.Json });
        p.Add(new NpgsqlParameter<long> { TypedValue = record.FencingToken, NpgsqlDbType = NpgsqlDbType.Bigint });

        var rows = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (rows == 0)
        {
            throw new UploadLeaseLostException(
                $"The record of upload {record.Key} was not saved: it was saved under fencing token {record.FencingToken}, and a newer holder of its lease has written it since.");
        }
    }

    public async ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        cancellationToken.ThrowIfCancellationRequested();
        var command = _context.DataSource.CreateCommand(_claim);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fencingToken, NpgsqlDbType = NpgsqlDbType.Bigint });
            var reader = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return reader.GetBoolean(15) ? null : Read(reader);
            }
        }

        // Not claimed: there is no record, or its token is not lower.
        var stored = await TokenOfAsync(key, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            return null;
        }

        throw new UploadLeaseLostException(
            $"The record of upload {key} holds fencing token {stored}, not lower than this request's {fencingToken}. Nothing was changed.");
    }

    public async ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var command = _context.DataSource.CreateCommand(_delete);
        await using (command.ConfigureAwait(false))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fencingToken, NpgsqlDbType = NpgsqlDbType.Bigint });
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is bool existed)
            {
                return existed;
            }
        }

        if (await TokenOfAsync(key, cancellationToken).ConfigureAwait(false) is { } stored)
        {
            throw new UploadLeaseLostException(
                $"The record of upload {key} holds fencing token {stored}, newer than this request's {fencingToken}. Nothing was deleted.");
        }

        return false;
    }

    private async ValueTask<long?> TokenOfAsync(string key, CancellationToken cancellationToken)
    {
        var command = _context.DataSource.CreateCommand(_tokenOf);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key, NpgsqlDbType = NpgsqlDbType.Text });
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is long token ? token : null;
    }

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The expiry sweep is the periodic job, so it prunes the tombstones that are past their retention too.
        await PruneTombstonesAsync(cancellationToken).ConfigureAwait(false);
        var command = _context.DataSource.CreateCommand(_expired);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now.ToUniversalTime(), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return Read(reader);
        }
    }

    /// <summary>Removes the tombstones older than <see cref="DeletedFenceRetention"/> (by the database's clock).</summary>
    internal async ValueTask<int> PruneTombstonesAsync(CancellationToken cancellationToken)
    {
        var command = _context.DataSource.CreateCommand(_prune);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = DeletedFenceRetention, NpgsqlDbType = NpgsqlDbType.Interval });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static object ToJson(IReadOnlyList<string>? values)
        => values is null ? DBNull.Value : JsonSerializer.Serialize(values, PostgreSqlJsonContext.Default.IReadOnlyListString);

    private static string[]? FromJsonArray(NpgsqlDataReader reader, int ordinal)
        => reader.IsDBNull(ordinal) ? null : JsonSerializer.Deserialize(reader.GetString(ordinal), PostgreSqlJsonContext.Default.StringArray);

    private static UploadRecord Read(NpgsqlDataReader reader)
    {
        var metadata = JsonSerializer.Deserialize(reader.GetString(13), PostgreSqlJsonContext.Default.DictionaryStringString) ?? [];
        return new UploadRecord
        {
            Key = reader.GetString(0),
            Partition = reader.GetString(1),
            FileId = reader.GetString(2),
            Offset = reader.GetInt64(3),
            Length = reader.IsDBNull(4) ? null : reader.GetInt64(4),
            IsCompleted = reader.GetBoolean(5),
            CreatedAt = reader.GetFieldValue<DateTimeOffset>(6),
            UpdatedAt = reader.GetFieldValue<DateTimeOffset>(7),
            ExpiresAt = reader.GetFieldValue<DateTimeOffset>(8),
            IsPartial = reader.GetBoolean(9),
            Parts = FromJsonArray(reader, 10),
            PartReferences = FromJsonArray(reader, 11),
            RepresentationDigest = reader.IsDBNull(12) ? null : reader.GetString(12),
            Metadata = metadata,
            FencingToken = reader.GetInt64(14),
        };
    }
}
