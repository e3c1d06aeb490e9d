using System.Buffers;
using System.IO.Pipelines;

namespace ResumableUpload.Benchmarks;

/// <summary>
/// A request body without a socket: every read returns the same 64 KiB made of 16 segments of 4 KiB (the shape of
/// Kestrel's pipe), until the body length is reached. Allocates nothing per read, so what a benchmark allocates is
/// what the code under test allocates.
/// </summary>
internal sealed class RepeatingPipeReader : PipeReader
{
    public const int SegmentSize = 4096;
    public const int Segments = 16;
    private readonly ReadOnlySequence<byte> _chunk;
    private long _remaining;
    private long _current;

    public RepeatingPipeReader()
    {
        var memory = GC.AllocateArray<byte>(SegmentSize * Segments, pinned: true);
        Random.Shared.NextBytes(memory);
        Segment? first = null, last = null;
        for (var i = 0; i < Segments; i++)
        {
            var segment = new Segment(memory.AsMemory(i * SegmentSize, SegmentSize), last);
            first ??= segment;
            last = segment;
        }

        _chunk = new ReadOnlySequence<byte>(first!, 0, last!, SegmentSize);
    }

    public static int ChunkSize => SegmentSize * Segments;

    public ReadOnlySequence<byte> Chunk => _chunk;

    public void Reset(long length) => _remaining = length;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        TryRead(out var result);
        return new ValueTask<ReadResult>(result);
    }

    public override bool TryRead(out ReadResult result)
    {
        _current = Math.Min(_chunk.Length, _remaining);
        result = new ReadResult(_chunk.Slice(0, _current), isCanceled: false, isCompleted: _remaining - _current == 0);
        return true;
    }

    public override void AdvanceTo(SequencePosition consumed) => _remaining -= _current;

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => _remaining -= _current;

    public override void CancelPendingRead()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
