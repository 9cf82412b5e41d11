import XCTest
import CohortTensor

final class KernelTests: XCTestCase {
    /// The two-thread split of the memory-bound kernels gives bit-identical results.
    func testParallelConvAndPoolKernelsMatchSerial() {
        let g = ConvGeometry(batch: 8, height: 14, width: 14, channels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1)
        var rng = SeededRandom(seed: 3)
        let x = (0..<(8 * 14 * 14 * 16)).map { _ in rng.normal() }
        func run(serial: Bool) -> ([Float], [Float], [Float], [Int32]) {
            let saved = Gemm.parallelThreshold
            if serial { Gemm.parallelThreshold = Int.max }
            defer { Gemm.parallelThreshold = saved }
            var cols = [Float](repeating: 0, count: g.outputPositions * g.patchSize)
            var dx = [Float](repeating: 0, count: x.count)
            let pg = ConvGeometry(batch: 8, height: 14, width: 14, channels: 16, kernelHeight: 2, kernelWidth: 2, stride: 2)
            var pooled = [Float](repeating: 0, count: pg.outputPositions * 16)
            var argmax = [Int32](repeating: 0, count: pooled.count)
            x.withUnsafeBufferPointer { px in
                cols.withUnsafeMutableBufferPointer { ConvKernels.im2col(g, x: px.baseAddress!, cols: $0.baseAddress!) }
                pooled.withUnsafeMutableBufferPointer { py in
                    argmax.withUnsafeMutableBufferPointer { PoolKernels.maxForward(pg, x: px.baseAddress!, y: py.baseAddress!, argmax: $0.baseAddress!) }
                }
            }
            cols.withUnsafeBufferPointer { pc in dx.withUnsafeMutableBufferPointer { ConvKernels.col2im(g, cols: pc.baseAddress!, dx: $0.baseAddress!) } }
            return (cols, dx, pooled, argmax)
        }
        let s = run(serial: true), p = run(serial: false)
        XCTAssertEqual(s.0, p.0); XCTAssertEqual(s.1, p.1); XCTAssertEqual(s.2, p.2); XCTAssertEqual(s.3, p.3)
        // im2col then col2im multiplies each input by the number of windows covering it: 9 in the interior.
        XCTAssertEqual(s.1[(5 * 14 + 5) * 16 + 3], 9 * x[(5 * 14 + 5) * 16 + 3], accuracy: 1e-5)
    }

    func testMaxPoolPicksWindowMaximum() {
        // One 4×4 single-channel image, 2×2 windows.
        let x: [Float] = [1, 5, 2, 0,
                          3, 4, 8, 1,
                          0, 0, -1, -2,
                          9, 0, -3, -4]
        let g = ConvGeometry(batch: 1, height: 4, width: 4, channels: 1, kernelHeight: 2, kernelWidth: 2, stride: 2)
        var y = [Float](repeating: 0, count: 4), idx = [Int32](repeating: 0, count: 4)
        PoolKernels.maxForward(g, x: x, y: &y, argmax: &idx)
        XCTAssertEqual(y, [5, 8, 9, -1])
        XCTAssertEqual(idx, [1, 6, 12, 10])
    }

    func testWorkerPoolRunsEveryTaskOnce() {
        let pool = WorkerPool.shared
        for tasks in [1, 2, 5, 64] {
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: tasks)
            counts.initialize(repeating: 0)
            defer { counts.deallocate() }
            let box = CountsBox(counts)
            for _ in 0..<200 { pool.run(tasks: tasks) { box.p[$0] += 1 } }
            XCTAssertEqual(Array(counts), [Int](repeating: 200, count: tasks))
        }
    }

    func testAllFiniteFindsEveryNonFiniteValueAtAnyPosition() {
        for count in [0, 1, 15, 16, 17, 100] {
            XCTAssertTrue(Tensor(shape: [count], repeating: 3e38).isFinite, "large finite values, count \(count)")
            for position in 0..<count {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var t = Tensor(shape: [count], repeating: 1)
                    t.data[position] = bad
                    XCTAssertFalse(t.isFinite, "\(bad) at \(position) of \(count)")
                }
            }
        }
    }

    func testTensorOps() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(a.sumRows().data, [5, 7, 9])
        XCTAssertEqual(a.transposed().data, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(Tensor.matmul(a, a, transB: true).data, [14, 32, 32, 77])
        XCTAssertEqual(Tensor(shape: [2, 3], data: [0, 3, 3, 9, 1, 2]).argmaxRows(), [1, 0])
        let s = Tensor(shape: [1, 3], data: [1000, 1000, 1000]).softmaxRows()
        XCTAssertEqual(s.data, [Float](repeating: Float(1) / 3, count: 3), "stable for large logits")
        XCTAssertEqual(a.gatherRows([1, 0, 1]).data, [4, 5, 6, 1, 2, 3, 4, 5, 6])
        XCTAssertFalse(Tensor(shape: [2], data: [1, .infinity]).isFinite)
    }
}

/// Gives the test's task closure a pointer it may write from the worker thread; each task
/// index writes only its own slot.
private struct CountsBox: @unchecked Sendable {
    let p: UnsafeMutableBufferPointer<Int>
    init(_ p: UnsafeMutableBufferPointer<Int>) { self.p = p }
}
