"What the fast evaluator assumes about OpenCV's contours, checked against OpenCV on many random binary images."
import numpy as np, cv2, pytest

def fill_holes(F):
    P = np.ones((F.shape[0] + 2, F.shape[1] + 2), np.uint8); P[1:-1, 1:-1] = ~F
    _, lab = cv2.connectedComponents(P, connectivity=4)
    return lab[1:-1, 1:-1] != lab[0, 0]

def phi(X):
    "Q4 + Q3/2: 2x2 windows with 4 pixels in X, plus half those with 3."
    P = np.zeros((X.shape[0] + 2, X.shape[1] + 2), np.int32); P[1:-1, 1:-1] = X
    k = P[:-1, :-1] + P[1:, :-1] + P[:-1, 1:] + P[1:, 1:]
    return (k == 4).sum() + (k == 3).sum() / 2

def from_components(F):
    "Outer boxes (component bounding boxes) with areas Phi(fill(C)), and hole boxes (bounded 4-connected background, grown by 1)."
    _, lab, st, _ = cv2.connectedComponentsWithStats(F.astype(np.uint8), connectivity=8)
    outer = sorted((tuple(int(v) for v in s[:4]), phi(fill_holes(lab == l))) for l, s in enumerate(st) if l)
    P = np.ones((F.shape[0] + 2, F.shape[1] + 2), np.uint8); P[1:-1, 1:-1] = ~F
    _, lab2, st2, _ = cv2.connectedComponentsWithStats(P, connectivity=4)
    holes = sorted((int(x) - 2, int(y) - 2, int(w) + 2, int(h) + 2) for l, (x, y, w, h, _) in enumerate(st2) if l and l != lab2[0, 0])
    return outer, holes

def from_opencv(F):
    cs, hier = cv2.findContours(F.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    depth = []
    for i in range(len(cs)):
        d, p = 0, hier[0][i][3]
        while p != -1: d, p = d + 1, hier[0][p][3]
        depth.append(d)
    outer = sorted((cv2.boundingRect(c), cv2.contourArea(c)) for c, d in zip(cs, depth) if d % 2 == 0)
    return outer, sorted(cv2.boundingRect(c) for c, d in zip(cs, depth) if d % 2 == 1)

@pytest.mark.parametrize('seed', range(3))
def test_contours_are_components_and_holes(seed):
    g = np.random.default_rng(seed)
    for it in range(1000):
        h, w = g.integers(1, 48, 2)
        if it % 3 == 0: F = g.random((h, w)) < g.uniform(.1, .9)
        elif it % 3 == 1:
            m = cv2.GaussianBlur(g.random((h, w)).astype(np.float32), (0, 0), g.uniform(.5, 4))
            F = m > np.quantile(m, g.uniform(.1, .9))
        else:
            F = np.zeros((h, w), bool)
            for _ in range(g.integers(1, 6)):
                y0, x0 = g.integers(0, h), g.integers(0, w); F[y0:y0 + g.integers(1, 12), x0:x0 + g.integers(1, 12)] ^= True
        assert from_components(F) == from_opencv(F), (seed, it)

def test_child_contour_area_never_exceeds_parent():
    "Nesting: a hole's area <= its component's, a nested component's <= its hole's (equality happens: thin rings)."
    g = np.random.default_rng(5)
    for it in range(1500):
        h, w = g.integers(3, 40, 2)
        F = (g.random((h, w)) < g.uniform(.2, .8)).astype(np.uint8)
        cs, hier = cv2.findContours(F, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        for i, c in enumerate(cs):
            p = hier[0][i][3]
            if p != -1: assert cv2.contourArea(c) <= cv2.contourArea(cs[p])
