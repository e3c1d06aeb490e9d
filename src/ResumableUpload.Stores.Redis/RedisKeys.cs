using StackExchange.Redis;

namespace ResumableUpload.Stores.Redis;

/// <summary>
/// The names of every key and channel this package uses, all starting with <see cref="RedisUploadStoreOptions.KeyPrefix"/>.
/// Upload keys are the engine's 64-character lowercase hexadecimal store keys, never client strings.
/// </summary>
internal sealed class RedisKeys
{
    public RedisKeys(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        Prefix = prefix;
        ExpiryIndex = prefix + "expiry";
        FencingCounter = prefix + "fencing-token";
        HandoverChannel = RedisChannel.Literal(prefix + "handover");
        ReleasedChannel = RedisChannel.Literal(prefix + "released");
    }

    public string Prefix { get; }

    /// <summary>A hash per upload: field <c>record</c> (the record as JSON) and field <c>fence</c> (its fencing token).</summary>
    public RedisKey Record(string key) => Prefix + "upload:" + key;

    /// <summary>A sorted set of upload keys scored by their record's expiry (Unix milliseconds).</summary>
    public RedisKey ExpiryIndex { get; }

    /// <summary>The lock of an upload: a string holding the holder's fencing token, with the lease as its expiry.</summary>
    public RedisKey Lock(string key) => Prefix + "lock:" + key;

    /// <summary>A handover request for an upload: the fencing token of the holder it is meant for.</summary>
    public RedisKey Handover(string key) => Prefix + "handover:" + key;

    /// <summary>The counter fencing tokens come from (INCR; never reset).</summary>
    public RedisKey FencingCounter { get; }

    /// <summary>Handover requests (<c>{uploadKey}:{token}</c>) for the holders, wherever they run.</summary>
    public RedisChannel HandoverChannel { get; }

    /// <summary>Released locks (<c>{uploadKey}</c>), so waiters on every instance try again at once.</summary>
    public RedisChannel ReleasedChannel { get; }
}
