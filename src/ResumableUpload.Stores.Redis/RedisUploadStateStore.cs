using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ResumableUpload.Middleware.Storage;
using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis;

/// <summary>
/// Keeps one Redis hash per upload (<c>{prefix}upload:{key}</c>: the record as JSON and its fencing token) and one
/// sorted set of upload keys scored by expiry (<c>{prefix}expiry</c>). Every write is one Lua script, so the record
/// and the index change together and a reader sees the old record or the new one. Records get no Redis TTL: the
/// engine's expiry sweep removes them with their bytes. A deleted record leaves its fencing token behind for a day.
/// </summary>
internal sealed class RedisUploadStateStore : IUploadStateStore
{
    private const int ExpiredPageSize = 256;
    private static readonly RedisValue RecordField = "record";
    private static readonly RedisValue FenceField = "fence";
    private static readonly RedisValue[] RecordAndFence = [RecordField, FenceField];

    // KEYS[1] record hash, KEYS[2] expiry index; ARGV[1] fencing token, ARGV[2] record JSON, ARGV[3] expiry score,
    // ARGV[4] upload key. Returns nil when saved, or the stored (newer) token when the record is refused.
    private const string SaveScript = """
        local stored = redis.call('HGET', KEYS[1], 'fence')
        if stored and tonumber(stored) > tonumber(ARGV[1]) then
          return stored
        end
        redis.call('HSET', KEYS[1], 'fence', ARGV[1], 'record', ARGV[2])
        redis.call('PERSIST', KEYS[1])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
        return false
        """;

    // KEYS[1] record hash, KEYS[2] expiry index; ARGV[1] upload key, ARGV[2] how long the fence outlives the record
    // (ms), ARGV[3] the deleting holder's fencing token. Returns 1 when there was a record, -1 when a newer holder's
    // token is stored (nothing deleted). The hash keeps its 'fence' field for a while (a tombstone with a TTL),
    // so a holder that lost its lease before the delete cannot bring the record back with its older token.
    private const string DeleteScript = """
        local stored = redis.call('HGET', KEYS[1], 'fence')
        if stored and tonumber(stored) > tonumber(ARGV[3]) then
          return -1
        end
        local existed = redis.call('HDEL', KEYS[1], 'record')
        if tonumber(ARGV[3]) > 0 then
          redis.call('HSET', KEYS[1], 'fence', ARGV[3])
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        redis.call('ZREM', KEYS[2], ARGV[1])
        return existed
        """;

    // KEYS[1] record hash; ARGV[1] the new lease's fencing token. Returns {1, record JSON} when claimed, {2} when there is
    // no record, {0, stored token} when the stored token is not lower (nothing changed). Strictly greater: two grants
    // never share a token, so an equal one is a replay, not a new holder. A deleted record's tombstone (the hash with
    // only its 'fence', expiring) takes the new token too and keeps its expiry; a key that never had a record gets no
    // hash (a probe for an unknown upload leaves nothing behind).
    private const string ClaimScript = """
        local stored = redis.call('HGET', KEYS[1], 'fence')
        if stored and tonumber(stored) >= tonumber(ARGV[1]) then
          return {0, stored}
        end
        if stored then
          redis.call('HSET', KEYS[1], 'fence', ARGV[1])
        end
        local record = redis.call('HGET', KEYS[1], 'record')
        if not record then
          return {2}
        end
        return {1, record}
        """;

    /// <summary>How long the fencing token of a deleted record is kept (longer than any holder could stay paused).</summary>
    internal static readonly TimeSpan DeletedFenceRetention = TimeSpan.FromDays(1);

    private readonly RedisConnection _connection;
    private readonly RedisKeys _keys;
    private readonly ILogger _logger;

    public RedisUploadStateStore(RedisConnection connection, IOptions<RedisUploadStoreOptions> options, ILogger<RedisUploadStateStore> logger)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _connection = connection;
        _keys = new RedisKeys(options.Value.KeyPrefix);
        _logger = logger;
    }

    public async ValueTask<UploadRecord?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var fields = await database.HashGetAsync(_keys.Record(key), RecordAndFence).WaitAsync(cancellationToken).ConfigureAwait(false);
        return Deserialize(key, fields);
    }

    public async ValueTask SaveAsync(UploadRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentException.ThrowIfNullOrEmpty(record.Key);
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var json = JsonSerializer.SerializeToUtf8Bytes(record, RedisJsonContext.Default.UploadRecord);

        // Not cancellable once sent: the script runs whole or not at all, and the caller must learn which.
        var refusedBy = await database.ScriptEvaluateAsync(
            SaveScript,
            [_keys.Record(record.Key), _keys.ExpiryIndex],
            [record.FencingToken, json, Score(record.ExpiresAt), record.Key]).ConfigureAwait(false);

        if (!refusedBy.IsNull)
        {
            throw new UploadLeaseLostException(string.Create(
                CultureInfo.InvariantCulture,
                $"The upload's lease was lost: its record was saved under fencing token {(string?)refusedBy}, newer than this request's {record.FencingToken}. Nothing was saved."));
        }
    }

    public async ValueTask<UploadRecord?> ClaimAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);

        // Not cancellable once sent, like a save.
        var result = (RedisResult[])(await database.ScriptEvaluateAsync(ClaimScript, [_keys.Record(key)], [fencingToken]).ConfigureAwait(false))!;
        switch ((long)result[0])
        {
            case 0:
                throw new UploadLeaseLostException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"The upload's lease was lost: its record holds fencing token {(string?)result[1]}, not lower than this request's {fencingToken}. Nothing was changed."));
            case 2:
                return null;
            default:
                return Deserialize(key, (RedisValue)result[1]) is { } record ? record with { FencingToken = fencingToken } : null;
        }
    }

    public async ValueTask<bool> DeleteAsync(string key, long fencingToken, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var removed = (long)await database.ScriptEvaluateAsync(
            DeleteScript,
            [_keys.Record(key), _keys.ExpiryIndex],
            [key, (long)DeletedFenceRetention.TotalMilliseconds, fencingToken]).ConfigureAwait(false);
        if (removed < 0)
        {
            throw new UploadLeaseLostException(string.Create(
                CultureInfo.InvariantCulture,
                $"The upload's lease was lost: a newer holder than this request's token {fencingToken} has written it. Nothing was deleted."));
        }

        return removed > 0;
    }

    public async IAsyncEnumerable<UploadRecord> GetExpiredAsync(DateTimeOffset now, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        var upTo = Score(now);
        for (long skip = 0; ; skip += ExpiredPageSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var keys = await database.SortedSetRangeByScoreAsync(_keys.ExpiryIndex, double.NegativeInfinity, upTo, Exclude.None, Order.Ascending, skip, ExpiredPageSize)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            if (keys.Length == 0)
            {
                yield break;
            }

            // Sent together: the multiplexer pipelines them in one round trip.
            var reads = new Task<RedisValue[]>[keys.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                reads[i] = database.HashGetAsync(_keys.Record(keys[i].ToString()), RecordAndFence);
            }

            await Task.WhenAll(reads).WaitAsync(cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < keys.Length; i++)
            {
                // A record that vanished since the index was read is skipped; one whose expiry moved on is not listed.
                var record = Deserialize(keys[i].ToString(), await reads[i].ConfigureAwait(false));
                if (record is not null && record.ExpiresAt <= now)
                {
                    yield return record;
                }
            }

            if (keys.Length < ExpiredPageSize)
            {
                yield break;
            }
        }
    }

    /// <summary>A time as the index scores it: whole Unix milliseconds, rounded down (exact in a double).</summary>
    internal static double Score(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

    /// <summary>
    /// The record of <c>[record, fence]</c>, with the 'fence' field as its token: a claim changes only that field
    /// (rewriting the JSON in Lua would not keep it byte for byte), so it is the authority.
    /// </summary>
    private UploadRecord? Deserialize(string key, RedisValue[] fields)
    {
        var record = Deserialize(key, fields[0]);
        return record is not null && fields[1].TryParse(out long fence) && fence != record.FencingToken ? record with { FencingToken = fence } : record;
    }

    private UploadRecord? Deserialize(string key, RedisValue json)
    {
        if (json.IsNull)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize((byte[])json!, RedisJsonContext.Default.UploadRecord);
        }
        catch (JsonException ex)
        {
            Log.CorruptRecord(_logger, key, ex);
            return null;
        }
    }
}
